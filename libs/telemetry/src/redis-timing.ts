import type { Histogram } from 'prom-client';

/** The part of an ioredis client the timing needs. */
interface CommandClient {
  sendCommand(command: { name: string; promise: Promise<unknown> }, ...rest: unknown[]): unknown;
}

/**
 * Times every command an ioredis client sends, from send to reply, into a histogram by command
 * name. ioredis has no hook for this, so the instance's `sendCommand` is wrapped; commands of
 * pipelines and transactions pass through it too.
 */
export function timeRedisCommands(client: CommandClient, histogram: Histogram<'command'>): void {
  const send = client.sendCommand.bind(client);
  client.sendCommand = (command, ...rest) => {
    const stop = histogram.startTimer({ command: command.name });
    command.promise.then(
      () => stop(),
      () => stop(),
    );
    return send(command, ...rest);
  };
}
