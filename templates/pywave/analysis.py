"""Analysis frames of pywave: `displacement <runDir> <index>` -> {frames, index, t, x, u} of that frame
(an index beyond the frames written gives the latest); `energy <runDir>` -> {frames, t, energy, units}.
Prints one JSON value. No frame yet: frames 0 and empty arrays."""
import json
import os
import sys

kind, run_dir = sys.argv[1], sys.argv[2]
frames_dir = os.path.join(run_dir, "frames")


def read(name):
    with open(os.path.join(frames_dir, name)) as f:
        return json.load(f)


count = read("index.json")["frames"] if os.path.exists(os.path.join(frames_dir, "index.json")) else 0
if kind == "displacement":
    wanted = int(sys.argv[3]) if len(sys.argv) > 3 and sys.argv[3].isdigit() else 0
    if count == 0:
        out = {"frames": 0, "index": None, "t": None, "x": [], "u": []}
    else:
        f = read(f"frame-{min(wanted, count - 1)}.json")
        out = {"frames": count, "index": f["index"], "t": f["t"], "x": f["x"], "u": f["u"]}
elif kind == "energy":
    fs = [read(f"frame-{i}.json") for i in range(count)]
    out = {"frames": count, "t": [f["t"] for f in fs], "energy": [f["energy"] for f in fs], "units": {"t": "s", "energy": "J/kg"}}
else:
    sys.exit(f"error: unknown analysis {kind!r} (known: displacement, energy)")
print(json.dumps(out))
