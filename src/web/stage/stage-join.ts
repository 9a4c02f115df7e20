/**
 * Going on stage from the browser: the microphone first (so a refusal costs
 * nothing on the server), then a stage pass, then the stage WebSocket with
 * the shared StageSession (src/client/stage-session.ts).
 */
import { StageSession, type SocketLike } from '../../client/stage-session.js';
import { ApiError, api } from '../api-client.js';

export interface JoinedStage {
  session: StageSession;
  stream: MediaStream;
  track: MediaStreamTrack;
}

export async function joinStage(spaceId: string, displayName: string): Promise<JoinedStage> {
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
  });
  const [track] = stream.getAudioTracks();
  const stopAll = (): void => stream.getTracks().forEach((t) => t.stop());
  if (!track) {
    stopAll();
    throw new DOMException('no audio track', 'NotFoundError');
  }
  try {
    const pass = await api.stagePass(spaceId);
    const session = new StageSession({
      socketUrl: pass.socketUrl,
      name: displayName,
      track,
      createSocket: (url) => new WebSocket(url) as unknown as SocketLike,
      createPeerConnection: (config) => new RTCPeerConnection(config),
    });
    await session.join();
    return { session, stream, track };
  } catch (error) {
    stopAll();
    throw error;
  }
}

/** Why going on stage failed, in words for the person. */
export function describeJoinError(error: unknown): string {
  if (error instanceof DOMException && (error.name === 'NotAllowedError' || error.name === 'SecurityError')) {
    return 'Microphone access is blocked. Allow it for this site in your browser settings, then join again.';
  }
  if (error instanceof DOMException && error.name === 'NotFoundError') return 'No microphone was found on this device.';
  if (error instanceof ApiError) return error.message;
  const text = error instanceof Error ? error.message : String(error);
  if (text.startsWith('STAGE_FULL')) return 'The stage is full right now.';
  if (text.startsWith('SPACE_ENDED')) return 'This Space has ended.';
  if (text.startsWith('TOKEN_')) return 'Your stage pass expired. Join again.';
  return `Could not join the stage: ${text}`;
}
