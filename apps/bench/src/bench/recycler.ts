import type { Target } from './measure.ts';
import { rssMb } from '@hopper/harness';

/** A server the bench may replace: which target it is and its current process. */
export interface Recyclable {
  target: Target;
  pid: () => number;
  /** How the process ended, if it has (see NodeProcess.ended). */
  ended: () => string | undefined;
  restart: () => Promise<void>;
}

/** Grown past this many times its size when fresh, a server is replaced between scenarios. */
const OUTGROWN = 2;

/**
 * Replaces servers that have outgrown their fresh size. A burst of concurrent store searches
 * leaves a process gigabytes larger (LanceDB keeps what it allocated), and the next scenario would
 * measure that process instead of the one a deployment runs. A server that has died is replaced
 * as well. Returns what it restarted.
 */
export function createRecycler(servers: () => Recyclable[]): () => Promise<string[]> {
  const fresh = new Map<Target, number>(servers().map((server) => [server.target, rssMb(server.pid()) ?? 0]));
  return async () => {
    const restarted: string[] = [];
    for (const server of servers()) {
      // A server that died (a crash, the OOM killer) is replaced too, and the report says how it ended.
      const ended = server.ended();
      const now = rssMb(server.pid()) ?? 0;
      const base = fresh.get(server.target) ?? now;
      if (ended === undefined && now <= base * OUTGROWN) continue;
      await server.restart();
      fresh.set(server.target, rssMb(server.pid()) ?? 0);
      restarted.push(
        ended === undefined
          ? `${server.target} (RSS ${now} MB, ${base} MB when fresh)`
          : `${server.target}, which had ${ended}`,
      );
    }
    return restarted;
  };
}
