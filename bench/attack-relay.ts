/**
 * An on-path attacker for attack 6's replays: a real stage member (the
 * speaker tool, SpeakerBot) whose signalling goes through a local WebSocket
 * proxy and whose media goes through a UDP relay, both the attacker's.
 *
 * - SignallingProxy: SpeakerBot connects to it; it connects on to the edge
 *   (from an attack address) and passes every message through, except that
 *   the SFU's ICE candidates (in offers and trickled) are rewritten to the
 *   relay's address, and the member's own candidates are kept from the SFU
 *   (it learns the relay's upstream address from the checks instead, as a
 *   peer-reflexive candidate), so no direct path can win over the relay. It
 *   notes what an on-path attacker sees: the SFU's port and ufrag, the
 *   member's ufrag and SSRC.
 * - UdpRelay: forwards datagrams both ways between the member and the SFU
 *   (the SFU sees the relay's upstream address as the member's), and
 *   replays the member's SRTP packets on that same 5-tuple: each RTP packet
 *   once more right away, and every tenth one again about 300 packets later
 *   (outside a 128-packet replay window). A working replay window drops
 *   all of them; without one, duplicates would be forwarded to the stage.
 */
import dgram from 'node:dgram';
import { WebSocket, WebSocketServer, type RawData } from 'ws';

/** RFC 7983 §7: 128-191 is RTP or RTCP; RTCP when the second byte (M + PT) is 192-223. */
function isRtp(packet: Buffer): boolean {
  const first = packet[0] ?? 0;
  const second = packet[1] ?? 0;
  return packet.length >= 12 && first >= 128 && first <= 191 && !(second >= 192 && second <= 223);
}

export class UdpRelay {
  forwardedUp = 0;
  forwardedDown = 0;
  replayed = 0;
  readonly port: number;
  private member: { address: string; port: number } | undefined;
  private readonly history: Buffer[] = [];
  private replaying = true;

  private constructor(
    private readonly downstream: dgram.Socket,
    private readonly upstream: dgram.Socket,
    private readonly sfuPort: number,
  ) {
    this.port = downstream.address().port;
    downstream.on('message', (packet, from) => {
      this.member = { address: from.address, port: from.port };
      this.forwardedUp++;
      upstream.send(packet, this.sfuPort, '127.0.0.1');
      if (this.replaying && isRtp(packet)) this.replay(packet);
    });
    upstream.on('message', (packet) => {
      if (!this.member) return;
      this.forwardedDown++;
      downstream.send(packet, this.member.port, this.member.address);
    });
  }

  /** A relay to the SFU's `sfuPort`, its upstream socket bound to `upstreamAddress`. */
  static async open(sfuPort: number, upstreamAddress: string): Promise<UdpRelay> {
    const bind = (socket: dgram.Socket, address: string): Promise<void> =>
      new Promise((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(0, address, () => resolve());
      });
    const downstream = dgram.createSocket('udp4');
    const upstream = dgram.createSocket('udp4');
    await bind(downstream, '127.0.0.1');
    await bind(upstream, upstreamAddress);
    return new UdpRelay(downstream, upstream, sfuPort);
  }

  stopReplaying(): void {
    this.replaying = false;
  }

  close(): void {
    this.replaying = false;
    this.downstream.close();
    this.upstream.close();
  }

  private replay(packet: Buffer): void {
    const copy = Buffer.from(packet);
    this.upstream.send(copy, this.sfuPort, '127.0.0.1');
    this.replayed++;
    this.history.push(copy);
    if (this.history.length > 300) {
      const old = this.history.shift() as Buffer;
      if (Math.random() < 0.1) {
        this.upstream.send(old, this.sfuPort, '127.0.0.1');
        this.replayed++;
      }
    }
  }
}

/** What the proxy saw of the negotiation. */
export interface Observed {
  sfuPort: number | undefined;
  sfuUfrag: string | undefined;
  memberUfrag: string | undefined;
  ssrc: number | undefined;
}

const CANDIDATE = /^(a=)?(candidate:\S+ \d+ udp \d+ )(\S+) (\d+)( typ .*)$/i;

export class SignallingProxy {
  readonly observed: Observed = { sfuPort: undefined, sfuUfrag: undefined, memberUfrag: undefined, ssrc: undefined };
  readonly port: number;
  private relayPort: Promise<number> | undefined;

  private constructor(
    private readonly server: WebSocketServer,
    upstreamBase: string,
    localAddress: string,
    /** Opens the relay once the SFU's port is known; resolves to the relay's port. */
    private readonly openRelay: (sfuPort: number) => Promise<number>,
  ) {
    this.port = (server.address() as { port: number }).port;
    server.on('connection', (client, request) => {
      const upstream = new WebSocket(upstreamBase + (request.url ?? ''), { localAddress });
      const queued: string[] = [];
      upstream.on('open', () => {
        for (const data of queued.splice(0)) upstream.send(data);
      });
      client.on('message', (data: RawData) => {
        const text = this.fromMember(data.toString());
        if (text === undefined) return;
        if (upstream.readyState === WebSocket.OPEN) upstream.send(text);
        else queued.push(text);
      });
      // In order, one at a time: the first offer waits for the relay to open.
      let chain: Promise<void> = Promise.resolve();
      upstream.on('message', (data: RawData) => {
        chain = chain.then(async () => {
          const message = await this.rewrite(data.toString());
          if (client.readyState === WebSocket.OPEN) client.send(message);
        });
      });
      upstream.on('close', (code, reason) => {
        void chain.then(() => client.close(code === 1005 || code === 1006 ? 1000 : code, reason.toString()));
      });
      client.on('close', () => upstream.close());
      upstream.on('error', () => client.terminate());
      client.on('error', () => upstream.terminate());
    });
  }

  static async open(upstreamBase: string, localAddress: string, openRelay: (sfuPort: number) => Promise<number>): Promise<SignallingProxy> {
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    return new SignallingProxy(server, upstreamBase, localAddress, openRelay);
  }

  close(): void {
    for (const client of this.server.clients) client.terminate();
    this.server.close();
  }

  /** A message from the member, without its candidates (undefined: not passed on); notes its ufrag and SSRC. */
  private fromMember(text: string): string | undefined {
    let message: { type?: string; sdp?: string };
    try {
      message = JSON.parse(text) as typeof message;
    } catch {
      return text;
    }
    if (message.type === 'candidate') return undefined;
    if (message.type !== 'answer' || !message.sdp) return text;
    this.observed.memberUfrag = /^a=ice-ufrag:(\S+)/m.exec(message.sdp)?.[1] ?? this.observed.memberUfrag;
    const ssrc = /^a=ssrc:(\d+)/m.exec(message.sdp)?.[1];
    if (ssrc) this.observed.ssrc = Number(ssrc);
    message.sdp = message.sdp
      .split('\n')
      .filter((line) => !line.startsWith('a=candidate:'))
      .join('\n');
    return JSON.stringify(message);
  }

  /** The SFU's candidates pointed at the relay; notes the SFU's port and ufrag. */
  private async rewrite(text: string): Promise<string> {
    let message: { type?: string; sdp?: string; candidate?: { candidate?: string } };
    try {
      message = JSON.parse(text) as typeof message;
    } catch {
      return text;
    }
    const lines = message.type === 'offer' && message.sdp ? message.sdp.split('\n') : message.type === 'candidate' && message.candidate?.candidate ? [message.candidate.candidate] : [];
    if (lines.length === 0) return text;
    for (const line of lines) {
      const match = CANDIDATE.exec(line.replace(/\r$/, ''));
      if (match && this.observed.sfuPort === undefined) this.observed.sfuPort = Number(match[4]);
    }
    if (this.observed.sfuPort !== undefined) this.relayPort ??= this.openRelay(this.observed.sfuPort);
    const relay = this.relayPort ? await this.relayPort : undefined;
    const point = (line: string): string => {
      const match = CANDIDATE.exec(line.replace(/\r$/, ''));
      if (!match || relay === undefined) return line;
      return `${match[1] ?? ''}${match[2]}127.0.0.1 ${relay}${match[5]}${line.endsWith('\r') ? '\r' : ''}`;
    };
    if (message.type === 'offer' && message.sdp) {
      this.observed.sfuUfrag = /^a=ice-ufrag:(\S+)/m.exec(message.sdp)?.[1] ?? this.observed.sfuUfrag;
      message.sdp = lines.map(point).join('\n');
    } else if (message.candidate) {
      message.candidate.candidate = point(message.candidate.candidate ?? '');
    }
    return JSON.stringify(message);
  }
}
