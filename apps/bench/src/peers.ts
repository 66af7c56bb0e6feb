import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { cleanEnvironment } from './hopper-stack.ts';
import { startNode, type NodeProcess } from './processes.ts';

const peerEntry = (name: string) => fileURLToPath(new URL(`./peers/${name}.ts`, import.meta.url));

export interface Peer {
  /** `plain-sdk` or `ceiling`. */
  name: PeerName;
  url: string;
  process: NodeProcess;
}

export type PeerName = 'plain-sdk' | 'ceiling';

const urlOf = (process: NodeProcess) => process.readyLine.split(' ')[1] as string;
const isListening = (line: string) => line.startsWith('listening ');

/** The plain MCP SDK server searching `storeDir` (see peers/plain-sdk-server.ts). */
export async function startPlainSdkPeer(storeDir: string, tenant: string): Promise<Peer> {
  const process = await startNode('plain-sdk peer', peerEntry('plain-sdk-server'), {
    args: ['--store', storeDir, '--tenant', tenant],
    env: cleanEnvironment(),
    isReady: isListening,
  });
  return { name: 'plain-sdk', url: urlOf(process), process };
}

/**
 * The fixed-answer JSON-RPC server (see peers/ceiling-server.ts), answering every call with
 * `result` (a JSON-RPC result object as Hopper sent it), so both send the same bytes.
 */
export async function startCeilingPeer(result: unknown, resultFile: string): Promise<Peer> {
  await writeFile(resultFile, JSON.stringify(result));
  const process = await startNode('ceiling peer', peerEntry('ceiling-server'), {
    args: ['--result', resultFile],
    env: cleanEnvironment(),
    isReady: isListening,
  });
  return { name: 'ceiling', url: urlOf(process), process };
}
