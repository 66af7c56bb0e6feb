import { AsyncLocalStorage } from 'node:async_hooks';

const scope = new AsyncLocalStorage<string>();

/**
 * Runs `fn` with `tenant` as the current tenant of everything it calls, however deep. Lower layers
 * that key data by tenant (the embedding cache) read it from here instead of threading a tenant
 * argument through interfaces that have no business knowing about tenants.
 */
export function runAsTenant<T>(tenant: string, fn: () => T): T {
  return scope.run(tenant, fn);
}

/** The tenant of the current call, if one was set with `runAsTenant`. */
export function currentTenant(): string | undefined {
  return scope.getStore();
}
