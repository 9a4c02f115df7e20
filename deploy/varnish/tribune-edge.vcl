# Tribune edge cache for Varnish 7 (Debian bookworm's varnish 7.1): the same
# rules as deploy/nginx/tribune-edge.conf, for operators who run Varnish. See
# deploy/varnish/README.md (what it lacks next to the nginx edge: per-IP
# limits, TLS) and docs/EDGE.md (why, and the measurements).
#
# Before use: set the two backends' .host/.port (the origin and its standby)
# and replace both CHANGE-ME with the origin's TRIBUNE_EDGE_SECRET.
vcl 4.1;

import directors;
import std;

probe tribune_health {
  .url = "/healthz";
  .interval = 1s;
  .timeout = 1s;
  .window = 3;
  .threshold = 2;
}

# Fetch timeouts above the origin's longest hold (12 s for a blocking
# playlist or part, 20 s for the feed).
backend primary {
  .host = "10.0.0.10";
  .port = "8080";
  .connect_timeout = 2s;
  .first_byte_timeout = 35s;
  .between_bytes_timeout = 35s;
  .probe = tribune_health;
}

# The standby origin, used while the primary's health probe fails.
backend standby {
  .host = "10.0.0.11";
  .port = "8080";
  .connect_timeout = 2s;
  .first_byte_timeout = 35s;
  .between_bytes_timeout = 35s;
  .probe = tribune_health;
}

sub vcl_init {
  new origin = directors.fallback();
  origin.add_backend(primary);
  origin.add_backend(standby);
}

sub vcl_recv {
  set req.backend_hint = origin.backend();
  # Only this edge may say it is an edge; the origin sees the client's address.
  unset req.http.x-tribune-edge;
  set req.http.X-Forwarded-For = client.ip;
  # Stale-if-error: while an origin is healthy a stale copy serves at most 2 s
  # past its lifetime (while it is refreshed); with none healthy, up to an hour.
  if (std.healthy(req.backend_hint)) {
    set req.grace = 2s;
  }

  # The stage WebSocket: a tunnel to the origin.
  if (req.http.Upgrade ~ "(?i)^websocket$" && req.url ~ "^/api/spaces/[a-z2-9]{10}/stage(\?|$)") {
    return (pipe);
  }
  if (req.method != "GET" && req.method != "HEAD") {
    return (pass);
  }

  # Parts, segments, init: immutable, no query at all.
  if (req.url ~ "^/hls/[a-z2-9]{10}/(init\.mp4|seg/[0-9]{1,9}\.m4s|part/[0-9]{1,9}\.[0-9]{1,2}\.m4s)(\?|$)") {
    set req.url = regsub(req.url, "\?.*$", "");
    call tribune_listener;
  }

  # Playlists: only _HLS_msn, _HLS_part and _HLS_skip (RFC 8216bis §6.2.5) survive, in that order.
  if (req.url ~ "^/hls/[a-z2-9]{10}/(master|live)\.m3u8(\?|$)") {
    set req.http.x-q = "";
    if (req.url ~ "[?&]_HLS_msn=[^&]") {
      set req.http.x-v = regsub(req.url, "^[^?]*\?(.*&)?_HLS_msn=([^&]*).*$", "\2");
      if (req.http.x-v !~ "^[0-9]{1,9}$") { return (synth(400, "HLS_QUERY_INVALID")); }
      set req.http.x-q = req.http.x-q + "&_HLS_msn=" + req.http.x-v;
    }
    if (req.url ~ "[?&]_HLS_part=[^&]") {
      set req.http.x-v = regsub(req.url, "^[^?]*\?(.*&)?_HLS_part=([^&]*).*$", "\2");
      if (req.http.x-v !~ "^[0-9]{1,9}$") { return (synth(400, "HLS_QUERY_INVALID")); }
      set req.http.x-q = req.http.x-q + "&_HLS_part=" + req.http.x-v;
    }
    if (req.url ~ "[?&]_HLS_skip=[^&]") {
      set req.http.x-v = regsub(req.url, "^[^?]*\?(.*&)?_HLS_skip=([^&]*).*$", "\2");
      if (req.http.x-v !~ "^(YES|v2)$") { return (synth(400, "HLS_QUERY_INVALID")); }
      set req.http.x-q = req.http.x-q + "&_HLS_skip=" + req.http.x-v;
    }
    set req.url = regsub(req.url, "\?.*$", "");
    if (req.http.x-q != "") {
      set req.url = req.url + "?" + regsub(req.http.x-q, "^&", "");
    }
    unset req.http.x-q;
    unset req.http.x-v;
    call tribune_listener;
  }

  # The state feed: only the version asked after.
  if (req.url ~ "^/api/spaces/[a-z2-9]{10}/feed(\?|$)") {
    set req.http.x-v = "";
    if (req.url ~ "[?&]v=[^&]") {
      set req.http.x-v = regsub(req.url, "^[^?]*\?(.*&)?v=([^&]*).*$", "\2");
      if (req.http.x-v !~ "^[0-9]{1,15}$") { return (synth(400, "VALIDATION_FAILED")); }
    }
    set req.url = regsub(req.url, "\?.*$", "");
    if (req.http.x-v != "") {
      set req.url = req.url + "?v=" + req.http.x-v;
    }
    unset req.http.x-v;
    call tribune_listener;
  }

  # Any other path under /hls is not a listener object.
  if (req.url ~ "^/hls/") {
    return (synth(404, "HLS_NOT_FOUND"));
  }
  # The API and the web client: passed through, never cached.
  return (pass);
}

# A listener object: the same for everyone, so no cookie or credential goes with it.
sub tribune_listener {
  unset req.http.Cookie;
  unset req.http.Authorization;
  return (hash);
}

# The key is the normalised URL alone (not the Host), like the nginx edge.
sub vcl_hash {
  hash_data(req.url);
  return (lookup);
}

sub vcl_pipe {
  set bereq.http.x-tribune-edge = "CHANGE-ME";
  if (req.http.Upgrade) {
    set bereq.http.Upgrade = req.http.Upgrade;
    set bereq.http.Connection = req.http.Connection;
  }
}

sub vcl_backend_fetch {
  set bereq.http.x-tribune-edge = "CHANGE-ME";
}

sub vcl_backend_response {
  # A refresh that failed leaves the stale copy in place (stale-if-error).
  if (beresp.status >= 500 && bereq.is_bgfetch) {
    return (abandon);
  }
  # The origin's Cache-Control decides the lifetime (s-maxage first, as Varnish
  # reads it). Errors are no-store: not kept. The short hit-for-miss lets
  # requests that waited for this answer go to the origin side by side instead
  # of one after another (the built-in VCL would keep it for 120 s).
  if (beresp.status >= 400 || beresp.http.Cache-Control ~ "(?i)no-store|private") {
    set beresp.ttl = 1s;
    set beresp.grace = 0s;
    set beresp.uncacheable = true;
    return (deliver);
  }
  unset beresp.http.Set-Cookie;
  set beresp.grace = 1h;
  return (deliver);
}

sub vcl_deliver {
  if (obj.uncacheable) {
    set resp.http.x-cache = "PASS";
  } elsif (obj.hits > 0) {
    set resp.http.x-cache = "HIT";
  } else {
    set resp.http.x-cache = "MISS";
  }
  unset resp.http.Via;
  unset resp.http.X-Varnish;
}

sub vcl_synth {
  set resp.http.Content-Type = "application/json";
  set resp.http.Cache-Control = "no-store";
  if (resp.reason == "HLS_QUERY_INVALID") {
    synthetic("""{"error":{"code":"HLS_QUERY_INVALID","message":"_HLS_msn and _HLS_part take non-negative integers, _HLS_skip takes YES or v2"}}""");
  } elsif (resp.reason == "VALIDATION_FAILED") {
    synthetic("""{"error":{"code":"VALIDATION_FAILED","message":"The request does not match its schema","details":"querystring/v must be a version number"}}""");
  } elsif (resp.reason == "HLS_NOT_FOUND") {
    synthetic("""{"error":{"code":"HLS_NOT_FOUND","message":"No such part, segment or playlist"}}""");
  }
  return (deliver);
}
