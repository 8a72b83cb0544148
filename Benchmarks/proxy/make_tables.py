#!/usr/bin/env python3
"""Writes the static routing tables of the benchmark's two Meridian gateways (east -> west -> nginx)."""
import json
import sys

out, east_tunnel, west_tunnel = sys.argv[1], sys.argv[2], sys.argv[3]
everywhere = {"any": True, "countries": [], "blocs": []}
nowhere = {"any": False, "countries": [], "blocs": []}
policy = {
    "name": "bench",
    "classes": {"public": {"name": "public", "rules": [{"from": everywhere, "allow": everywhere, "deny": nowhere}]}},
    "services": {},
    "defaultClass": "public",
}
germany = {"country": "DE", "blocs": ["EU"]}


def table(source, local_address, peer, peer_address, destination):
    return {
        "source": source, "version": 1, "hash": "bench",
        "local": {"cluster": source, "address": local_address, "jurisdiction": germany},
        "peers": [{"cluster": peer, "address": peer_address, "jurisdiction": germany}],
        # `bench-h2c`: the same nginx over h2c (instructions.sh).
        "entries": [{"service": service, "dataClass": "public", "timeoutSeconds": 60,
                     "levels": [{"destinations": [{"cluster": destination, "weight": 1}]}]} for service in ("bench", "bench-h2c")],
        "policy": policy, "revokedSerials": [],
    }


json.dump(table("east", east_tunnel, "west", west_tunnel, "west"), open(f"{out}/east.json", "w"))
json.dump(table("west", west_tunnel, "east", east_tunnel, "west"), open(f"{out}/west.json", "w"))
