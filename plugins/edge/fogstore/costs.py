"""Modelled constants of the fog object store; every one is cited in the YAML ``sources``
and in docs/models.md (fogstore section).

* ``RPC_REQUEST_BYTES``: a Kademlia request (FIND_NODE / GET_PROVIDERS / ADD_PROVIDER) as
  a libp2p protobuf: a 34-byte multihash key, the message type and the stream framing,
  ~128 B. ESTIMATE from the libp2p Kademlia spec's message layout.
* ``CONTACT_BYTES``: one peer in a reply (34-byte peer id plus one or two multiaddrs),
  ~100 B. ESTIMATE, same source.
* ``RPC_CPU_S``: handling one DHT RPC (decrypt, decode, look up the routing table or the
  provider store, encode, encrypt): 50 us of a reference core. ESTIMATE: libp2p hosts
  serve a few 10^4 small requests per second per core.
* ``HASH_BYTE_S``: SHA-256 of the content to compute or verify its content identifier:
  ~400 MB/s per reference core without SHA extensions (OpenSSL ``speed sha256`` on
  current x86 cores, 16 KiB blocks). ESTIMATE.
"""

from __future__ import annotations

RPC_REQUEST_BYTES = 128.0
CONTACT_BYTES = 100.0
RPC_CPU_S = 50e-6
HASH_BYTE_S = 2.5e-9
