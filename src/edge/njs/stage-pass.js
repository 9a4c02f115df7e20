/**
 * The edge's check of a stage pass (src/control/stage-tokens.ts), for nginx's
 * njs: `js_content` of the internal location that `auth_request` asks before
 * the stage WebSocket is tunnelled to the origin. Forged, tampered, expired,
 * other-Space and garbage passes are answered here and never reach the origin;
 * the origin still checks every pass it gets (and the seat, which needs the
 * Space). So this check must never refuse a pass of ours the origin would
 * take; it is stricter only about spellings no client writes (a padded or
 * standard-alphabet signature, which jose decodes to the same bytes).
 *
 * The pass is the `token` query parameter of the upgrade request
 * (`/api/spaces/<id>/stage?token=<JWS>`), read from `$request_uri` (in an
 * auth_request subrequest that is still the client's request line), parsed
 * the way the origin's query parser does (fast-querystring: `+` is a space,
 * percent escapes decoded, a repeated parameter is a list, which no pass is).
 * The Space is the path's id as the client sent it, which is what
 * `proxy_pass` without a URI forwards, with percent escapes decoded as the
 * origin's router decodes them; a path of any other form (doubled slashes,
 * dot segments, which the origin does not route to a stage) names no Space
 * here, so no pass is for it.
 *
 * A pass is a JWS in compact form (RFC 7515 §7.1) signed ES256 (RFC 7518
 * §3.4): the signature is r || s, 64 bytes, which is what WebCrypto's ECDSA
 * verify takes. Checked in the origin's order (jose's): size, shape, header
 * `alg` exactly ES256 (so never `none` or HS256), the signature against the
 * public key in `$tribune_pass_x` / `$tribune_pass_y` (base64url, 32 bytes
 * each: `StageTokens.publicKey()`), the claims iss = "tribune", aud = "stage",
 * `exp` still ahead (5 s of clock skew allowed; the origin allows none), then
 * sub = the Space of the path.
 *
 * Answers: 204 when the pass is good; 401 TOKEN_MISSING or TOKEN_INVALID;
 * 403 TOKEN_WRONG_SPACE; 500 when the key variables are missing or malformed
 * (a broken edge fails closed and says so in the error log). A refusal sets
 * `x-tribune-refusal` to the JSON body the origin would send
 * (`{"error":{"code","message","details"}}`, src/wire/errors.ts), which the
 * stage location takes with `auth_request_set` and answers from its
 * `error_page` locations.
 *
 * Written for njs 0.7.9 (Debian 12's libnginx-mod-http-js): no destructuring,
 * default parameters, spread, classes, generators, for...of, optional
 * chaining or optional catch bindings; an async
 * function that contains a nested function declaration reads its locals as
 * undefined after an await, so this uses promise chains only; WebCrypto imports an ECDSA key as
 * spki or pkcs8 only (jwk and raw came in 0.7.10), so the SPKI is built from
 * x and y; and nothing at module level outlives one request (each runs in a
 * fresh clone of the VM), so the key is imported on every check.
 */

/** Seconds past `exp` a pass is still let through, for clocks that disagree. */
const CLOCK_SKEW_S = 5;
/** Base64url length of a 64-byte ES256 signature (r || s). */
const SIGNATURE_CHARS = 86;
/** DER SubjectPublicKeyInfo (RFC 5480 §2) of a P-256 key up to the point: id-ecPublicKey, prime256v1, BIT STRING, 0x04 (uncompressed). */
const SPKI_P256_PREFIX = '3059301306072a8648ce3d020106082a8648ce3d03010703420004';
/** The stage route as sent, its id segment still escaped. */
const STAGE_PATH = /^\/api\/spaces\/([^/?]+)\/stage(?:\?|$)/;
/** Public ids (src/wire/public-id.ts); the edge's stage route has already checked the shape and the tag. */
const SPACE_ID = /^[a-z2-9]{14}$/;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/**
 * The longest pass the origin reads (STAGE_PASS_MAX_CHARS) and the catalogue's
 * TOKEN_* entries (src/wire/errors.ts), from the renderer's $tribune_gate
 * (base64 JSON, src/edge/nginx-edge-config.ts), which the gate reads too.
 */
function settings(r) {
  return JSON.parse(Buffer.from(r.variables.tribune_gate, 'base64').toString());
}
/** The origin's `details` for a pass it cannot read or verify (stage-tokens.ts). */
const UNREADABLE = 'bad signature or format';

/** js_content handler: 204, 401 or 403 (with `x-tribune-refusal`), or 500. */
function check(r) {
  const key = publicKeySpki(r.variables.tribune_pass_x, r.variables.tribune_pass_y);
  if (!key) {
    r.error('stage-pass: $tribune_pass_x and $tribune_pass_y must hold the pass key (base64url, 32 bytes each)');
    r.return(500);
    return;
  }
  const s = settings(r);
  const requestUri = r.variables.request_uri || '';
  const passes = tokenParameters(requestUri);
  // Repeated, the parameter is a list at the origin, which is never empty and never a pass.
  if (passes.length > 1) return refuse(r, s, 'TOKEN_INVALID', UNREADABLE);
  if (passes.length === 0 || passes[0] === '') return refuse(r, s, 'TOKEN_MISSING');
  const pass = passes[0];
  if (pass.length > s.passMaxChars) return refuse(r, s, 'TOKEN_INVALID', 'too long');
  const jws = readCompact(pass);
  if (!jws) return refuse(r, s, 'TOKEN_INVALID', UNREADABLE);
  const spaceId = spaceOf(requestUri);

  crypto.subtle
    .importKey('spki', key, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['verify'])
    .then(
      function (publicKey) {
        return crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, publicKey, jws.signature, jws.signedBytes).then(
          function (valid) {
            return valid;
          },
          // OpenSSL refuses some signatures outright (r or s out of range) instead of answering false.
          function () {
            return false;
          },
        );
      },
      function (error) {
        throw new Error('stage-pass: the pass key does not import: ' + error);
      },
    )
    .then(function (valid) {
      if (!valid) return refuse(r, s, 'TOKEN_INVALID', UNREADABLE);
      const problem = claimsProblem(jws.payload, Math.floor(Date.now() / 1000));
      if (problem) return refuse(r, s, 'TOKEN_INVALID', problem);
      if (jws.payload.sub !== spaceId) return refuse(r, s, 'TOKEN_WRONG_SPACE');
      r.return(204);
    })
    .catch(function (error) {
      r.error(String(error));
      r.return(500);
    });
}

/** The Space id the path names, or undefined. */
function spaceOf(requestUri) {
  const path = STAGE_PATH.exec(requestUri);
  if (!path) return undefined;
  let id = path[1];
  if (id.indexOf('%') >= 0) {
    try {
      id = decodeURIComponent(id);
    } catch (e) {
      return undefined;
    }
  }
  return SPACE_ID.test(id) ? id : undefined;
}

/** Every value of the `token` query parameter, decoded as the origin decodes it. */
function tokenParameters(requestUri) {
  const found = [];
  const q = requestUri.indexOf('?');
  if (q < 0) return found;
  const pairs = requestUri.slice(q + 1).split('&');
  for (let i = 0; i < pairs.length; i++) {
    const pair = pairs[i];
    const eq = pair.indexOf('=');
    if (decodeQueryPart(eq < 0 ? pair : pair.slice(0, eq)) !== 'token') continue;
    found.push(eq < 0 ? '' : decodeQueryPart(pair.slice(eq + 1)));
  }
  return found;
}

/** A query key or value: `+` is a space, then percent escapes; a malformed escape leaves it as it was. */
function decodeQueryPart(text) {
  const spaced = text.replace(/\+/g, ' ');
  if (spaced.indexOf('%') < 0) return spaced;
  try {
    return decodeURIComponent(spaced);
  } catch (e) {
    return spaced;
  }
}

/** header.payload.signature with header.alg ES256 and JSON objects in both; undefined otherwise. */
function readCompact(pass) {
  const parts = pass.split('.');
  if (parts.length !== 3) return undefined;
  if (!BASE64URL.test(parts[0]) || !BASE64URL.test(parts[1]) || !BASE64URL.test(parts[2])) return undefined;
  if (parts[2].length !== SIGNATURE_CHARS) return undefined;
  const header = jsonObject(parts[0]);
  // `crit` names extensions a verifier must understand (RFC 7515 §4.1.11); the origin sets none.
  if (!header || header.alg !== 'ES256' || header.crit !== undefined) return undefined;
  const payload = jsonObject(parts[1]);
  if (!payload) return undefined;
  return { payload: payload, signature: Buffer.from(parts[2], 'base64url'), signedBytes: Buffer.from(parts[0] + '.' + parts[1]) };
}

function jsonObject(segment) {
  try {
    const value = JSON.parse(Buffer.from(segment, 'base64url').toString());
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? value : undefined;
  } catch (e) {
    return undefined;
  }
}

/**
 * What is wrong with a signed pass's claims, as the origin's `details`, or
 * undefined. jose's order: required claims, iss, aud, iat, nbf, exp.
 */
function claimsProblem(claims, nowS) {
  if (claims.exp === undefined || claims.sub === undefined || claims.iss === undefined || claims.aud === undefined) return UNREADABLE;
  if (claims.iss !== 'tribune') return UNREADABLE;
  const audiences = typeof claims.aud === 'string' ? [claims.aud] : claims.aud;
  if (!Array.isArray(audiences) || audiences.indexOf('stage') < 0) return UNREADABLE;
  if (claims.iat !== undefined && typeof claims.iat !== 'number') return UNREADABLE;
  if (claims.nbf !== undefined && (typeof claims.nbf !== 'number' || claims.nbf > nowS + CLOCK_SKEW_S)) return UNREADABLE;
  if (typeof claims.exp !== 'number') return UNREADABLE;
  if (claims.exp <= nowS - CLOCK_SKEW_S) return 'expired';
  return undefined;
}

/** The DER SPKI of the P-256 point (x, y), or undefined when either is not 32 bytes of base64url. */
function publicKeySpki(x, y) {
  if (typeof x !== 'string' || typeof y !== 'string' || !BASE64URL.test(x) || !BASE64URL.test(y)) return undefined;
  const xBytes = Buffer.from(x, 'base64url');
  const yBytes = Buffer.from(y, 'base64url');
  if (xBytes.length !== 32 || yBytes.length !== 32) return undefined;
  return Buffer.concat([Buffer.from(SPKI_P256_PREFIX, 'hex'), xBytes, yBytes]);
}

function refuse(r, s, code, details) {
  const entry = s.errors[code];
  const error = { code: code, message: entry.message };
  if (details !== undefined) error.details = details;
  r.headersOut['X-Tribune-Refusal'] = JSON.stringify({ error: error });
  r.return(entry.status);
}

export default { check };
