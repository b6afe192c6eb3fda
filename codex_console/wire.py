"""What the console and the embed server agree on over HTTP, defined once for both ends."""

from __future__ import annotations

# The console's health probe sends this header (value "1") with each of its requests; the server
# counts such requests in codex_embed_probe_requests_total, not in codex_embed_requests_total,
# and leaves their texts out of codex_embed_texts_total.
PROBE_HEADER = "X-Codex-Probe"
