/**
 * Child processes for tests: tools (ffmpeg, ffprobe) and load makers run
 * asynchronously, never with execFileSync/spawnSync (the server under test
 * shares this event loop), with a hard timeout.
 */
import { spawn } from 'node:child_process';

export interface Spawned {
  stdout: Buffer;
  stderr: string;
  exitCode: number | null;
}

/** Runs a tool to its end with a hard timeout; stdout whole, stderr's first 16 KiB. */
export function runTool(command: string, args: string[], timeoutMs: number): Promise<Spawned> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      if (stderr.length < 16_384) stderr += chunk;
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} did not finish within ${timeoutMs} ms; stderr: ${stderr}`));
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (exitCode) => {
      clearTimeout(timer);
      resolve({ stdout: Buffer.concat(chunks), stderr, exitCode });
    });
  });
}

/**
 * Runs a TypeScript file as a child process (its own event loop, so the
 * load it makes does not slow the server under test) and parses the JSON
 * report it prints on stdout.
 */
export async function reportFromChild<T>(what: string, file: string, args: string[], timeoutMs: number): Promise<T> {
  const { stdout, stderr, exitCode } = await runTool(process.execPath, ['--import', 'tsx', file, ...args], timeoutMs);
  if (exitCode !== 0) throw new Error(`${what} exited with ${exitCode}; stderr: ${stderr}`);
  try {
    return JSON.parse(stdout.toString('utf8')) as T;
  } catch (error) {
    throw new Error(`${what} printed no report: ${stdout.toString('utf8').slice(0, 500)} ${stderr}`, { cause: error });
  }
}
