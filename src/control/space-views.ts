/** SpaceView, the API's picture of a Space, from a hub or a stored row. */
import type { FastifyRequest } from 'fastify';
import { accountView } from '../accounts/auth.js';
import type { StoredAccount } from '../store/account-store.js';
import type { StoredSpace } from '../store/space-store.js';
import { isoTime as iso, type SpaceView } from '../wire/api.js';
import type { MemberView } from '../wire/signalling.js';

/** What the API and the feed both say of a Space: everything but who is connected and its links. */
export function spaceSummary(record: StoredSpace, host: StoredAccount | undefined): Omit<SpaceView, 'members' | 'links'> {
  return {
    id: record.id,
    title: record.title,
    description: record.description,
    state: record.state,
    host: host ? accountView(host) : null,
    createdAt: iso(record.createdAtMs) ?? '',
    startsAt: iso(record.startsAtMs),
    startedAt: iso(record.startedAtMs),
    endedAt: iso(record.endedAtMs),
    recorded: record.recorded,
  };
}

export function spaceView(base: string, record: StoredSpace, host: StoredAccount | undefined, members: MemberView[]): SpaceView {
  return {
    ...spaceSummary(record, host),
    members,
    links: {
      page: `${base}/s/${record.id}`,
      calendar: `${base}/api/spaces/${record.id}/calendar.ics`,
      feed: `${base}/api/spaces/${record.id}/feed`,
      playlist: `${base}/hls/${record.id}/master.m3u8`,
    },
  };
}

/** The base URL for links: TRIBUNE_PUBLIC_URL, or what the request came to. */
export function baseUrl(publicUrl: string | undefined, request: FastifyRequest): string {
  if (publicUrl) return publicUrl.replace(/\/$/, '');
  return `${request.protocol}://${request.host}`;
}
