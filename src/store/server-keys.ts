/**
 * Keys kept in the store so that every node and every restart agree on
 * them. The first node to need one generates it; a second node racing it
 * keeps the first one's (insert does nothing on conflict, then both read).
 */
import { randomBytes } from 'node:crypto';
import type { Store } from './database.js';

export async function storedKey(store: Store, name: string, bytes: number): Promise<Buffer> {
  const read = async () => (await store.db.selectFrom('server_keys').select('value').where('name', '=', name).executeTakeFirst())?.value;
  let value = await read();
  if (value === undefined) {
    await store.db.insertInto('server_keys').values({ name, value: randomBytes(bytes).toString('hex') }).onConflict((c) => c.column('name').doNothing()).execute();
    value = await read();
  }
  if (value === undefined) throw new Error(`the store did not keep the ${name} key`);
  return Buffer.from(value, 'hex');
}
