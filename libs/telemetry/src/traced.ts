import type { Attributes, Tracer } from '@opentelemetry/api';
import { inSpan } from './spans.ts';

type AsyncMethod = (...args: never[]) => Promise<unknown>;

/**
 * Wraps the named async methods of `target` so each call runs in its own span (`<prefix>.<method>`),
 * leaving every other property as it is. Used for the store and the embedding provider, whose
 * calls are the slow parts of a request worth seeing in a trace.
 */
export function traced<T extends object>(
  target: T,
  tracer: Tracer,
  prefix: string,
  methods: readonly (keyof T & string)[],
  attributes: Attributes = {},
): T {
  const names = new Set<string>(methods);
  return new Proxy(target, {
    get(object, property, receiver) {
      const value: unknown = Reflect.get(object, property, receiver);
      if (typeof value !== 'function') return value;
      const method = value as AsyncMethod;
      // Methods run on the real object: class private fields are not reachable through a proxy.
      if (typeof property !== 'string' || !names.has(property)) return method.bind(object);
      return (...args: never[]) =>
        inSpan(tracer, `${prefix}.${property}`, attributes, () => method.apply(object, args));
    },
  });
}
