/**
 * Picks the replay storage from the environment: local disk by default, so
 * `npm start` keeps replays with no other service, or an S3-compatible bucket
 * once TRIBUNE_REPLAY_S3_ENDPOINT is set.
 *
 *   TRIBUNE_REPLAY_S3_ENDPOINT           e.g. https://s3.eu-west-1.amazonaws.com, http://minio:9000
 *   TRIBUNE_REPLAY_S3_BUCKET             required with an endpoint
 *   TRIBUNE_REPLAY_S3_ACCESS_KEY_ID      required with an endpoint
 *   TRIBUNE_REPLAY_S3_SECRET_ACCESS_KEY  required with an endpoint
 *   TRIBUNE_REPLAY_S3_REGION             default us-east-1
 *   TRIBUNE_REPLAY_S3_PATH_STYLE         true|false, default true (what self-hosted servers expect)
 */
import { LocalDiskStorage } from './local-disk-storage.js';
import type { ReplayStorage } from './replay-storage.js';
import { S3Storage } from './s3-storage.js';

const PREFIX = 'TRIBUNE_REPLAY_S3_';
const REQUIRED = ['ENDPOINT', 'BUCKET', 'ACCESS_KEY_ID', 'SECRET_ACCESS_KEY'] as const;
const OPTIONAL = ['REGION', 'PATH_STYLE'] as const;

export function storageFromEnv(env: Record<string, string | undefined>, defaultDir: string): ReplayStorage {
  const value = (name: string): string | undefined => env[PREFIX + name] || undefined;
  const given = [...REQUIRED, ...OPTIONAL].filter((name) => value(name) !== undefined);
  if (given.length === 0) return new LocalDiskStorage(defaultDir);
  // Falling back to local disk here would keep replays somewhere nobody looks.
  const missing = REQUIRED.filter((name) => value(name) === undefined);
  if (missing.length > 0) {
    throw new Error(
      `replay storage: ${missing.map((name) => PREFIX + name).join(', ')} must be set too ` +
        `(S3 is half configured: ${given.map((name) => PREFIX + name).join(', ')} set)`,
    );
  }
  return new S3Storage({
    endpoint: value('ENDPOINT') ?? '',
    bucket: value('BUCKET') ?? '',
    accessKeyId: value('ACCESS_KEY_ID') ?? '',
    secretAccessKey: value('SECRET_ACCESS_KEY') ?? '',
    region: value('REGION') ?? 'us-east-1',
    forcePathStyle: parseBoolean(value('PATH_STYLE'), true, PREFIX + 'PATH_STYLE'),
  });
}

function parseBoolean(text: string | undefined, fallback: boolean, name: string): boolean {
  if (text === undefined) return fallback;
  if (text === 'true' || text === '1') return true;
  if (text === 'false' || text === '0') return false;
  throw new Error(`${name} must be true or false, got ${text}`);
}
