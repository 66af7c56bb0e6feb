/**
 * Wraps a reporting function so it runs at most once per `intervalMs`; calls in between are counted
 * and the count is passed to the next report. For errors that can repeat on every request (a cache
 * outage) and would otherwise flood the log.
 */
export function rateLimited<A extends unknown[]>(
  intervalMs: number,
  report: (...args: [...A, suppressed: number]) => void,
): (...args: A) => void {
  let last = 0;
  let suppressed = 0;
  return (...args: A) => {
    const now = Date.now();
    if (now - last < intervalMs) {
      suppressed += 1;
      return;
    }
    last = now;
    report(...args, suppressed);
    suppressed = 0;
  };
}
