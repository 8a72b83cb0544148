# Sourced by the streaming benchmark scripts. make_chat_tables DIR EAST_TUNNEL WEST_TUNNEL NAME writes DIR/east.json
# and DIR/west.json, static routing tables in which east sends the service `chat` (data class `public`, allowed
# everywhere) to west, and west serves it from its own endpoint; NAME is the tables' hash.
make_chat_tables() {
    python3 - "$1" "$2" "$3" "$4" <<'PY'
import json, sys
out, east_tunnel, west_tunnel, name = sys.argv[1:5]
everywhere = {"any": True, "countries": [], "blocs": []}
nowhere = {"any": False, "countries": [], "blocs": []}
policy = {"name": "bench", "defaultClass": "public", "services": {},
          "classes": {"public": {"name": "public", "rules": [{"from": everywhere, "allow": everywhere, "deny": nowhere}]}}}
germany = {"country": "DE", "blocs": ["EU"]}
def table(source, local, peer, peer_address):
    return {"source": source, "version": 1, "hash": name,
            "local": {"cluster": source, "address": local, "jurisdiction": germany},
            "peers": [{"cluster": peer, "address": peer_address, "jurisdiction": germany}],
            "entries": [{"service": "chat", "dataClass": "public", "timeoutSeconds": 60,
                         "levels": [{"destinations": [{"cluster": "west", "weight": 1}]}]}],
            "policy": policy, "revokedSerials": []}
json.dump(table("east", east_tunnel, "west", west_tunnel), open(f"{out}/east.json", "w"))
json.dump(table("west", west_tunnel, "east", east_tunnel), open(f"{out}/west.json", "w"))
PY
}
