import { describe, expect, it } from 'vitest';
import { browserGuard } from './browser-guard.ts';

const allowed = new Set(['127.0.0.1', 'localhost']);

describe('browserGuard', () => {
  it('lets clients that are not browsers through (no Origin)', () => {
    expect(browserGuard({ host: '127.0.0.1:8080' }, allowed)).toBeUndefined();
  });

  it('lets the page served by this gateway through (same origin)', () => {
    expect(
      browserGuard({ host: 'localhost:8080', origin: 'http://localhost:8080' }, allowed),
    ).toBeUndefined();
  });

  it('refuses a page of another site, and another port of the same host', () => {
    expect(browserGuard({ host: '127.0.0.1:8080', origin: 'https://evil.example' }, allowed)).toMatch(
      /origin/,
    );
    expect(browserGuard({ host: '127.0.0.1:8080', origin: 'http://127.0.0.1:3000' }, allowed)).toMatch(
      /origin/,
    );
    expect(browserGuard({ host: '127.0.0.1:8080', origin: 'null' }, allowed)).toMatch(/origin/);
  });

  it('refuses a Host the gateway does not answer to (DNS rebinding)', () => {
    expect(
      browserGuard({ host: 'attacker.example:8080', origin: 'http://attacker.example:8080' }, allowed),
    ).toMatch(/host/);
  });
});
