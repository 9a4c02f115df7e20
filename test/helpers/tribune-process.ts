/**
 * Tribune as its own process (`src/main.ts`, what `npm start` runs), for
 * tests that must kill it the hard way: SIGKILL gives the server no chance
 * to flush or close anything, as a crash or an OOM kill would not.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../src/tools/free-port.js';

export interface TribuneProcess {
  url: string;
  child: ChildProcess;
  /** Resolves once the process has exited. */
  exited: Promise<void>;
  output(): string;
}

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

/** Starts src/main.ts on a loopback port (a free one unless given: a restart reuses its predecessor's) with the given data directory and secret. */
export async function spawnTribune(dataDir: string, secretHex: string, port?: number, timeoutMs = 30_000): Promise<TribuneProcess> {
  port ??= await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
    env: { ...process.env, TRIBUNE_HOST: '127.0.0.1', PORT: String(port), TRIBUNE_DATA_DIR: dataDir, TRIBUNE_SECRET: secretHex, DATABASE_URL: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`Tribune did not start within ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString('utf8');
      const match = /Tribune is running: open (http:\/\/\S+)/.exec(output);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`Tribune exited (${code ?? signal}) before it was up:\n${output}`));
    });
  });
  return { url, child, exited, output: () => output };
}
