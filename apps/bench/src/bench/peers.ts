import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { cleanEnvironment } from './hopper-stack.ts';
import { startNode, type NodeProcess } from '@hopper/harness';

const peerEntry = (name: string) => fileURLToPath(new URL(`../peers/${name}.ts`, import.meta.url));

export interface Peer {
  /** `plain-sdk`, `plain-sdk-fixed` or `ceiling`. */
  name: PeerName;
  url: string;
  process: NodeProcess;
  /** Replaces the process with a fresh one (`url` and `process` change). */
  restart(): Promise<void>;
}

export type PeerName = 'plain-sdk' | 'plain-sdk-fixed' | 'ceiling';

const urlOf = (process: NodeProcess) => process.readyLine.split(' ')[1] as string;
const isListening = (line: string) => line.startsWith('listening ');

/** The plain MCP SDK server searching `storeDir` (see peers/plain-sdk-server.ts). */
export async function startPlainSdkPeer(storeDir: string, tenant: string): Promise<Peer> {
  return startPeer('plain-sdk', 'plain-sdk-server', ['--store', storeDir, '--tenant', tenant]);
}

/**
 * The plain MCP SDK server whose `search` does no I/O and answers the structured content of
 * `result` (a JSON-RPC result object as Hopper sent it): the SDK's floor for a tool call.
 */
export async function startPlainSdkFixedPeer(result: unknown, resultFile: string): Promise<Peer> {
  await writeFile(resultFile, JSON.stringify(result));
  return startPeer('plain-sdk-fixed', 'plain-sdk-server', ['--result', resultFile]);
}

/**
 * The fixed-answer JSON-RPC server (see peers/ceiling-server.ts), answering every call with
 * `result` (a JSON-RPC result object as Hopper sent it), so both send the same bytes.
 */
export async function startCeilingPeer(result: unknown, resultFile: string): Promise<Peer> {
  await writeFile(resultFile, JSON.stringify(result));
  return startPeer('ceiling', 'ceiling-server', ['--result', resultFile]);
}

async function startPeer(name: PeerName, script: string, args: string[]): Promise<Peer> {
  const start = () =>
    startNode(`${name} peer`, peerEntry(script), { args, env: cleanEnvironment(), isReady: isListening });
  const first = await start();
  const peer: Peer = {
    name,
    url: urlOf(first),
    process: first,
    async restart() {
      await peer.process.stop();
      peer.process = await start();
      peer.url = urlOf(peer.process);
    },
  };
  return peer;
}
