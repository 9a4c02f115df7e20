/**
 * deploy/coturn/turnserver.conf, run by Debian's coturn (`turnserver`) as it
 * ships. Only what ties the file to one host is swapped for a throwaway run:
 * the ports, listening and relay addresses, certificate, secret and file
 * paths (LOCAL_KEYS). The test asserts that every other line, every
 * denied-peer-ip above all, reaches coturn unchanged.
 *
 * A minimal TURN client (RFC 8656 over werift's STUN codec, RFC 8489
 * long-term credentials: the 401 challenge, then MESSAGE-INTEGRITY keyed
 * with MD5(username:realm:password)) allocates a relay and asks for
 * permissions and channels towards special-use addresses.
 *
 * What a loopback-only run can prove: coturn's relay address here is
 * 127.0.0.1 too, and nothing answers at 10.0.0.1 or 169.254.1.1. So the
 * proof is coturn's own answer: CreatePermission and ChannelBind to each
 * denied address get 403 (Forbidden IP, RFC 8656 §9.1), while the same
 * request to a public address (which creates a permission and sends
 * nothing) succeeds. For loopback the test goes one step further and
 * checks the data path: a Send indication to a UDP socket of this test at
 * 127.0.0.1 never arrives, and arrives once the one loopback deny line is
 * taken out and allow-loopback-peers added; so the relay works here and the
 * shipped configuration is what stops it.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect as netConnect, createServer, isIPv4, isIPv6 } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { Message, makeIntegrityKey, parseMessage } from 'werift';
import { configFromEnv } from '../../src/config.js';
import { joinStage } from '../helpers/spaces-api.js';
import { sleep, startTribune } from '../helpers/tribune.js';

const SHIPPED_PATH = 'deploy/coturn/turnserver.conf';
const SHIPPED = readFileSync(SHIPPED_PATH, 'utf8');
const LIMIT = { timeout: 60_000 };

/** Directives that tie the file to one host; the test sets them for a throwaway run. */
const LOCAL_KEYS = new Set([
  'listening-port',
  'tls-listening-port',
  'listening-ip',
  'relay-ip',
  'external-ip',
  'cert',
  'pkey',
  'static-auth-secret',
  'pidfile',
  'log-file',
  'syslog',
  'userdb',
]);

/**
 * Lines the run adds to probe the shipped ones: a CLI password and port would open coturn's
 * telnet console, unless `no-cli` keeps it shut (it does; the test connects to check).
 */
const PROBE_KEYS = new Set(['cli-port', 'cli-password']);

/** STUN/TURN methods and classes (RFC 8489 §18.2, RFC 8656 §17). */
const ALLOCATE = 0x003;
const SEND = 0x006;
const CREATE_PERMISSION = 0x008;
const CHANNEL_BIND = 0x009;
const BINDING = 0x001;
const REQUEST = 0x000;
const INDICATION = 0x010;
const SUCCESS = 0x100;
/** REQUESTED-TRANSPORT: UDP (17) in the first byte (RFC 8656 §18.6). */
const UDP_TRANSPORT = 17 << 24;

function directives(config: string): string[] {
  return config
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

const keyOf = (directive: string): string => directive.split('=')[0] ?? '';

// --- IP ranges ------------------------------------------------------------------------------

/** An address as a number in its family: IPv4 in 32 bits, IPv6 in 128. */
function ipValue(address: string): { v6: boolean; value: bigint } {
  if (isIPv4(address)) return { v6: false, value: address.split('.').reduce((acc, part) => (acc << 8n) | BigInt(part), 0n) };
  assert.ok(isIPv6(address), `not an IP address: ${address}`);
  let text = address;
  const embedded = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (embedded?.[1]) {
    const v4 = ipValue(embedded[1]).value;
    text = text.slice(0, -embedded[1].length) + `${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const groups = tail === undefined ? headGroups : [...headGroups, ...Array(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups];
  return { v6: true, value: groups.reduce((acc, group) => (acc << 16n) | BigInt(`0x${group}`), 0n) };
}

function deniedRanges(config: string): { v6: boolean; low: bigint; high: bigint; line: string }[] {
  return directives(config)
    .filter((line) => keyOf(line) === 'denied-peer-ip')
    .map((line) => {
      const [low = '', high = low] = line.slice('denied-peer-ip='.length).split('-');
      const from = ipValue(low);
      const to = ipValue(high);
      assert.equal(from.v6, to.v6, `mixed families in ${line}`);
      assert.ok(from.value <= to.value, `backwards range in ${line}`);
      return { v6: from.v6, low: from.value, high: to.value, line };
    });
}

/**
 * coturn's own reading of a range (ioa_addr_in_range, addr_less_eq): an all-zero first
 * address matches from anything, an IPv4 address sorts below every IPv6 one, and IPv6
 * addresses compare byte by byte (right for CIDR blocks only). Ranges that coturn would read
 * differently from what they say are refused here.
 */
function assertCoturnReadsRangesAsWritten(config: string): void {
  for (const range of deniedRanges(config)) {
    assert.ok(!(range.v6 && range.low === 0n), `${range.line}: coturn would read it as denying every IPv4 peer`);
    if (range.v6) {
      const size = range.high - range.low + 1n;
      const isBlock = (size & (size - 1n)) === 0n && range.low % size === 0n;
      assert.ok(isBlock, `${range.line}: coturn compares IPv6 byte by byte; only a CIDR block means what it says`);
    }
  }
}

function isDenied(config: string, address: string): boolean {
  const { v6, value } = ipValue(address);
  return deniedRanges(config).some((range) => range.v6 === v6 && range.low <= value && value <= range.high);
}

// --- a throwaway coturn ---------------------------------------------------------------------

interface Coturn {
  port: number;
  tlsPort: number;
  cliPort: number;
  secret: string;
  realm: string;
  config: string;
  log: () => string;
  stop: () => Promise<void>;
}

async function freePort(): Promise<number> {
  for (;;) {
    const udp = createSocket('udp4');
    const port = await new Promise<number>((resolve) => udp.bind(0, '127.0.0.1', () => resolve(udp.address().port)));
    udp.close();
    const tcp = createServer();
    const free = await new Promise<boolean>((resolve) => {
      tcp.once('error', () => resolve(false));
      tcp.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (free) {
      await new Promise((resolve) => tcp.close(resolve));
      return port;
    }
  }
}

/** The shipped file with the host-specific directives replaced; every other line unchanged. */
function localConfig(dir: string, ports: { port: number; tlsPort: number; cliPort: number }, secret: string, edit: (lines: string[]) => string[] = (l) => l): string {
  const { port, tlsPort, cliPort } = ports;
  const kept = edit(SHIPPED.split('\n').filter((line) => !LOCAL_KEYS.has(keyOf(line.trim()))));
  return [
    ...kept,
    '# --- throwaway run (test/integration/turn-coturn.test.ts) ---',
    `listening-ip=127.0.0.1`,
    `relay-ip=127.0.0.1`,
    `listening-port=${port}`,
    `tls-listening-port=${tlsPort}`,
    `cert=${join(dir, 'cert.pem')}`,
    `pkey=${join(dir, 'key.pem')}`,
    `static-auth-secret=${secret}`,
    `pidfile=${join(dir, 'turnserver.pid')}`,
    `userdb=${join(dir, 'turndb')}`,
    'log-file=stdout',
    `cli-port=${cliPort}`,
    `cli-password=${randomBytes(8).toString('hex')}`,
    '',
  ].join('\n');
}

async function startCoturn(edit?: (lines: string[]) => string[]): Promise<Coturn> {
  const dir = mkdtempSync(join(tmpdir(), 'tribune-coturn-'));
  const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=turn.test', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { encoding: 'utf8' });
  assert.equal(made.status, 0, `openssl: ${made.stderr}`);
  const ports: number[] = [];
  while (ports.length < 3) {
    const candidate = await freePort();
    if (!ports.includes(candidate)) ports.push(candidate);
  }
  const [port = 0, tlsPort = 0, cliPort = 0] = ports;
  const secret = randomBytes(32).toString('hex');
  const config = localConfig(dir, { port, tlsPort, cliPort }, secret, edit);
  writeFileSync(join(dir, 'turnserver.conf'), config);
  let output = '';
  const child: ChildProcess = spawn('turnserver', ['-c', join(dir, 'turnserver.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null) child.kill('SIGTERM');
    await Promise.race([exited, sleep(3000)]);
    if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  const realm = /^realm=(.*)$/m.exec(config)?.[1] ?? '';
  // Ready once it answers a STUN Binding request.
  const probe = await TurnClient.udp(port);
  try {
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`turnserver exited (${child.exitCode}):\n${output.slice(-2000)}`);
      const answer = await probe.request(new Message(BINDING, REQUEST), 300).catch(() => undefined);
      if (answer) break;
      if (Date.now() > deadline) throw new Error(`turnserver did not answer on ${port}:\n${output.slice(-2000)}`);
    }
  } catch (error) {
    await stop();
    throw error;
  } finally {
    probe.close();
  }
  return { port, tlsPort, cliPort, secret, realm, config, log: () => output, stop };
}

/** TURN REST API credential (coturn use-auth-secret): "<expiry>:<name>", base64(HMAC-SHA1(secret, username)). */
function restCredential(secret: string, name: string, lifetimeS = 600): { username: string; password: string } {
  const username = `${Math.floor(Date.now() / 1000) + lifetimeS}:${name}`;
  return { username, password: createHmac('sha1', secret).update(username).digest('base64') };
}

// --- a minimal TURN client --------------------------------------------------------------------

class TurnClient {
  private readonly pending = new Map<string, (message: Message) => void>();
  private key: Buffer | undefined;
  private username = '';
  private realm = '';
  private nonce: Buffer | undefined;

  private constructor(
    private readonly write: (data: Buffer) => void,
    readonly close: () => void,
  ) {}

  static async udp(port: number): Promise<TurnClient> {
    const socket: Socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
    const client = new TurnClient((data) => socket.send(data, port, '127.0.0.1'), () => socket.close());
    socket.on('message', (data) => client.receive(data));
    return client;
  }

  /** TURN over TLS over TCP (RFC 8656 §3.1): STUN messages back to back on the stream. */
  static async tls(port: number): Promise<TurnClient> {
    const socket: TLSSocket = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
    const client = new TurnClient((data) => socket.write(data), () => socket.destroy());
    let buffered = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 20 && buffered.length >= 20 + buffered.readUInt16BE(2)) {
        const length = 20 + buffered.readUInt16BE(2);
        client.receive(buffered.subarray(0, length));
        buffered = buffered.subarray(length);
      }
    });
    return client;
  }

  /** Sends `message` (retransmitted over UDP) and resolves with the answer to its transaction. */
  request(message: Message, timeoutMs = 1500): Promise<Message> {
    return new Promise((resolve, reject) => {
      const id = message.transactionIdHex;
      const bytes = message.bytes;
      const resend = setInterval(() => this.write(bytes), 250);
      const timer = setTimeout(() => {
        clearInterval(resend);
        this.pending.delete(id);
        reject(new Error(`no answer to method 0x${message.messageMethod.toString(16)}`));
      }, timeoutMs);
      this.pending.set(id, (answer) => {
        clearInterval(resend);
        clearTimeout(timer);
        this.pending.delete(id);
        resolve(answer);
      });
      this.write(bytes);
    });
  }

  /** Allocates a UDP relay with long-term credentials; resolves with the answer (success or error). */
  async allocate(username: string, password: string): Promise<Message> {
    const first = await this.request(new Message(ALLOCATE, REQUEST).setAttribute('REQUESTED-TRANSPORT', UDP_TRANSPORT));
    assert.equal(errorCode(first), 401, 'an Allocate without credentials is challenged');
    this.username = username;
    this.realm = first.getAttributeValue('REALM') as string;
    this.nonce = first.getAttributeValue('NONCE') as Buffer;
    this.key = makeIntegrityKey(username, this.realm, password);
    return this.request(this.signed(new Message(ALLOCATE, REQUEST).setAttribute('REQUESTED-TRANSPORT', UDP_TRANSPORT)));
  }

  createPermission(host: string): Promise<Message> {
    return this.request(this.signed(new Message(CREATE_PERMISSION, REQUEST).setAttribute('XOR-PEER-ADDRESS', [host, 0])));
  }

  channelBind(host: string, port: number, channel: number): Promise<Message> {
    return this.request(
      this.signed(new Message(CHANNEL_BIND, REQUEST).setAttribute('CHANNEL-NUMBER', channel).setAttribute('XOR-PEER-ADDRESS', [host, port])),
    );
  }

  /** A Send indication (RFC 8656 §11): no answer either way. */
  sendIndication(host: string, port: number, data: Buffer): void {
    const message = new Message(SEND, INDICATION).setAttribute('XOR-PEER-ADDRESS', [host, port]).setAttribute('DATA', data);
    this.write(message.addFingerprint().bytes);
  }

  private signed(message: Message): Message {
    assert.ok(this.key && this.nonce, 'allocate() first');
    message.setAttribute('USERNAME', this.username).setAttribute('REALM', this.realm).setAttribute('NONCE', this.nonce);
    return message.addMessageIntegrity(this.key).addFingerprint();
  }

  private receive(data: Buffer): void {
    const message = parseMessage(data);
    if (message) this.pending.get(message.transactionIdHex)?.(message);
  }
}

function errorCode(message: Message): number {
  if (message.messageClass === SUCCESS) return 200;
  const [code] = message.getAttributeValue('ERROR-CODE') as [number, string];
  return code;
}

// --- the tests ---------------------------------------------------------------------------------

/** Special-use addresses a relay must never reach, and public ones it may. */
const SPECIAL = [
  '0.0.0.0', '10.0.0.1', '100.64.0.1', '100.127.255.254', '127.0.0.1', '127.255.255.254', '169.254.1.1', '169.254.169.254',
  '172.16.0.1', '172.31.255.254', '192.0.0.170', '192.0.2.1', '192.168.1.1', '198.18.0.1', '224.0.0.251', '255.255.255.255',
  '::1', '::ffff:127.0.0.1', '::ffff:10.0.0.1', '64:ff9b::a00:1', '2001::1', '2002:a00:1::1', '2001:db8::1',
  'fc00::1', 'fd12:3456::1', 'fe80::1', 'ff02::1',
];
const PUBLIC = ['8.8.8.8', '1.1.1.1', '2606:4700:4700::1111', '2001:4860:4860::8888'];
/** The brief's four, and the rest of the IPv4 special ranges a relay on IPv4 is asked for. */
const REFUSED_LIVE = ['127.0.0.1', '10.0.0.1', '192.168.1.1', '169.254.1.1', '172.16.0.1', '100.64.0.1', '169.254.169.254', '0.0.0.0', '224.0.0.251'];

test('the shipped turnserver.conf denies every special-use range and no public one, with quotas, TLS, REST-API credentials, no CLI and fingerprints', () => {
  assertCoturnReadsRangesAsWritten(SHIPPED);
  for (const address of SPECIAL) assert.ok(isDenied(SHIPPED, address), `${address} is not denied`);
  for (const address of PUBLIC) assert.ok(!isDenied(SHIPPED, address), `${address} is denied`);
  const lines = directives(SHIPPED);
  for (const flag of ['no-cli', 'fingerprint', 'use-auth-secret', 'no-multicast-peers', 'no-loopback-peers', 'no-tcp-relay', 'no-tlsv1', 'no-tlsv1_1']) {
    assert.ok(lines.includes(flag), `${flag} is missing`);
  }
  for (const key of ['user-quota', 'total-quota', 'max-bps', 'tls-listening-port', 'cert', 'pkey', 'realm', 'stale-nonce']) {
    assert.ok(lines.some((line) => keyOf(line) === key && line.length > key.length + 1), `${key}= is missing`);
  }
  for (const key of ['user-quota', 'total-quota', 'max-bps']) {
    const value = Number(lines.find((line) => keyOf(line) === key)?.split('=')[1]);
    assert.ok(Number.isInteger(value) && value > 0, `${key} must be a positive number`);
  }
  // The secret is a placeholder to replace, never a real one in git.
  assert.deepEqual(lines.filter((line) => keyOf(line) === 'static-auth-secret'), ['static-auth-secret=REPLACE-WITH-openssl-rand-hex-32']);
  for (const forbidden of ['allow-loopback-peers', 'allowed-peer-ip', 'no-auth', 'lt-cred-mech', 'user', 'cli-password']) {
    assert.ok(!lines.some((line) => keyOf(line) === forbidden), `${forbidden} must not be set`);
  }
});

let coturn: Coturn;

before(async () => {
  const installed = spawnSync('turnserver', ['--version'], { encoding: 'utf8' });
  assert.equal(installed.error, undefined, 'turnserver not found: scripts/test.sh installs Debian\'s coturn');
  coturn = await startCoturn();
}, LIMIT);

after(async () => {
  await coturn?.stop();
}, LIMIT);

test('coturn runs the shipped file with every deny rule and only the host-specific lines changed; its CLI stays shut', async () => {
  const kept = (config: string) => directives(config).filter((line) => !LOCAL_KEYS.has(keyOf(line)) && !PROBE_KEYS.has(keyOf(line)));
  assert.deepEqual(kept(coturn.config), kept(SHIPPED));
  assert.equal(deniedRanges(coturn.config).length, deniedRanges(SHIPPED).length);
  // The one line coturn 4.6 does not know is the one kept for older versions (see the file).
  const unknown = [...coturn.log().matchAll(/Bad configuration format: (\S+)/g)].map((m) => m[1]);
  assert.deepEqual([...new Set(unknown)], ['no-loopback-peers']);
  assert.doesNotMatch(coturn.log(), /allow_loopback_peers/i);
  // The run set a CLI password and port; with no-cli nothing listens there.
  const refused = await new Promise<boolean>((resolve) => {
    const socket = netConnect(coturn.cliPort, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
  assert.ok(refused, `coturn's CLI answered on ${coturn.cliPort}`);
});

test('an allocation gets 403 Forbidden IP for CreatePermission to 127.0.0.1, 10.0.0.1, 192.168.1.1, 169.254.1.1 and other special addresses, and 200 for a public one', LIMIT, async () => {
  const client = await TurnClient.udp(coturn.port);
  try {
    const { username, password } = restCredential(coturn.secret, 'member-1');
    const allocated = await client.allocate(username, password);
    assert.equal(errorCode(allocated), 200, 'Allocate with a REST-API credential');
    assert.deepEqual((allocated.getAttributeValue('XOR-RELAYED-ADDRESS') as [string, number])[0], '127.0.0.1', 'the relay address on this machine');
    for (const host of REFUSED_LIVE) {
      const answer = await client.createPermission(host);
      assert.equal(errorCode(answer), 403, `CreatePermission to ${host}`);
      assert.match((answer.getAttributeValue('ERROR-CODE') as [number, string])[1], /forbidden/i);
    }
    // A public address is granted: the refusals above come from the deny rules, not from a
    // relay that refuses everything. A permission sends nothing to the address.
    assert.equal(errorCode(await client.createPermission('8.8.8.8')), 200, 'CreatePermission to 8.8.8.8');
    for (const host of ['127.0.0.1', '10.0.0.1']) assert.equal(errorCode(await client.channelBind(host, 9, 0x4000)), 403, `ChannelBind to ${host}`);
  } finally {
    client.close();
  }
});

/** Sends `count` Send indications through a fresh allocation at `server` to a UDP socket at 127.0.0.1; resolves with what arrived. */
async function relayToLoopback(server: Coturn, count = 5): Promise<{ permission: number; arrived: number }> {
  const target = createSocket('udp4');
  await new Promise<void>((resolve) => target.bind(0, '127.0.0.1', () => resolve()));
  let arrived = 0;
  target.on('message', () => arrived++);
  const client = await TurnClient.udp(server.port);
  try {
    const { username, password } = restCredential(server.secret, `loopback-${randomBytes(3).toString('hex')}`);
    assert.equal(errorCode(await client.allocate(username, password)), 200);
    const permission = errorCode(await client.createPermission('127.0.0.1'));
    for (let i = 0; i < count; i++) client.sendIndication('127.0.0.1', target.address().port, Buffer.from(`relayed ${i}`));
    await sleep(500);
    return { permission, arrived };
  } finally {
    client.close();
    target.close();
  }
}

test('a Send indication to a socket on 127.0.0.1 never arrives; with only the loopback deny line out and allow-loopback-peers in, it does', LIMIT, async () => {
  assert.deepEqual(await relayToLoopback(coturn), { permission: 403, arrived: 0 });
  const loopbackLine = 'denied-peer-ip=127.0.0.0-127.255.255.255';
  assert.ok(SHIPPED.split('\n').includes(loopbackLine));
  const open = await startCoturn((lines) => [...lines.filter((line) => line !== loopbackLine), 'allow-loopback-peers']);
  try {
    assert.deepEqual(await relayToLoopback(open), { permission: 200, arrived: 5 }, 'the control run relays to loopback');
    // The other deny lines still hold in the control run.
    const client = await TurnClient.udp(open.port);
    try {
      const { username, password } = restCredential(open.secret, 'control');
      assert.equal(errorCode(await client.allocate(username, password)), 200);
      assert.equal(errorCode(await client.createPermission('10.0.0.1')), 403);
    } finally {
      client.close();
    }
  } finally {
    await open.stop();
  }
});

test('one username gets at most user-quota concurrent allocations (486 past it)', LIMIT, async () => {
  const quota = Number(/^user-quota=(\d+)$/m.exec(SHIPPED)?.[1]);
  const { username, password } = restCredential(coturn.secret, 'greedy');
  const clients: TurnClient[] = [];
  try {
    const codes: number[] = [];
    for (let i = 0; i <= quota; i++) {
      const client = await TurnClient.udp(coturn.port);
      clients.push(client);
      codes.push(errorCode(await client.allocate(username, password)));
    }
    assert.deepEqual(codes, [...Array(quota).fill(200), 486]);
  } finally {
    for (const client of clients) client.close();
  }
});

test('a wrong password, an expired REST-API username and a credential for another secret get 401; the TLS listener allocates', LIMIT, async () => {
  const cases: [string, { username: string; password: string }][] = [
    ['a wrong password', { username: restCredential(coturn.secret, 'x').username, password: 'not-the-password' }],
    ['an expired username', restCredential(coturn.secret, 'late', -60)],
    ['another secret', restCredential('another-secret', 'stranger')],
  ];
  for (const [what, credential] of cases) {
    const client = await TurnClient.udp(coturn.port);
    try {
      assert.equal(errorCode(await client.allocate(credential.username, credential.password)), 401, what);
    } finally {
      client.close();
    }
  }
  const tls = await TurnClient.tls(coturn.tlsPort);
  try {
    const { username, password } = restCredential(coturn.secret, 'over-tls');
    assert.equal(errorCode(await tls.allocate(username, password)), 200, 'Allocate over TLS');
    assert.equal(errorCode(await tls.createPermission('192.168.1.1')), 403, 'CreatePermission over TLS');
  } finally {
    tls.close();
  }
});

test('each stage member is handed a TURN credential of its own (TRIBUNE_TURN_URLS/SECRET); coturn takes it and counts user-quota per member', LIMIT, async () => {
  const quota = Number(/^user-quota=(\d+)$/m.exec(SHIPPED)?.[1]);
  const turnUrl = `turn:127.0.0.1:${coturn.port}?transport=udp`;
  const server = await startTribune({ sfu: { ...configFromEnv({ TRIBUNE_TURN_URLS: turnUrl, TRIBUNE_TURN_SECRET: coturn.secret }).sfu } });
  const clients: TurnClient[] = [];
  const stages: { close(): void }[] = [];
  try {
    const space = await server.createSpace('Relayed stage');
    const speaker = await space.speaker('Relayed speaker');
    const credentials: { username: string; credential: string }[] = [];
    for (const [token, accountId] of [[space.hostToken, space.host.id], [speaker.token, speaker.account.id]] as const) {
      const { client, welcome } = await joinStage(server.url, space.space.id, token);
      stages.push(client);
      const relay = welcome.iceServers.find((s) => [s.urls].flat().includes(turnUrl));
      assert.ok(relay?.username && relay.credential, `the welcome names the relay with a credential: ${JSON.stringify(welcome.iceServers)}`);
      const [expiry, name] = relay.username.split(':');
      assert.equal(name, accountId, 'the username names the member');
      assert.ok(Number(expiry) > Date.now() / 1000 + 3600, 'it outlasts a long stage session');
      credentials.push({ username: relay.username, credential: relay.credential });
    }
    const [host, member] = credentials;
    assert.ok(host && member && host.username !== member.username);
    // The host's credential allocates up to the quota, then 486; the other member's still allocates.
    const codes: number[] = [];
    for (let i = 0; i <= quota; i++) {
      const client = await TurnClient.udp(coturn.port);
      clients.push(client);
      codes.push(errorCode(await client.allocate(host.username, host.credential)));
    }
    assert.deepEqual(codes, [...Array(quota).fill(200), 486]);
    const other = await TurnClient.udp(coturn.port);
    clients.push(other);
    assert.equal(errorCode(await other.allocate(member.username, member.credential)), 200, 'one member past its quota does not stop another');
  } finally {
    for (const client of clients) client.close();
    for (const stage of stages) stage.close();
    await server.close();
  }
});
