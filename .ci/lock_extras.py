"""After `uv pip compile` (make lock): pin a package a second time with its
extra, ``uvicorn[standard]==0.54.0`` beside ``uvicorn==0.54.0``, same hashes.

pip 23's hash mode needs both: kedro-viz asks for ``uvicorn[standard]``, and
without a pinned line of that form pip fetches the newest uvicorn for it and
refuses the install as unpinned; mlflow asks for plain ``uvicorn``, and
without the plain line pip does the same for it.

    python .ci/lock_extras.py requirements.lock uvicorn standard
"""

import re
import sys
from pathlib import Path


def main(lock: str, package: str, extra: str) -> None:
    path = Path(lock)
    text = path.read_text()
    pinned = re.search(
        rf"^{re.escape(package)}==\S+ \\\n(?:    --hash=\S+(?: \\)?\n)+", text, re.M
    )
    if pinned is None:
        sys.exit(f"{lock}: no pinned {package}== line with hashes")
    block = pinned.group(0)
    with_extra = block.replace(f"{package}==", f"{package}[{extra}]==", 1)
    if with_extra in text:
        return
    path.write_text(text.replace(block, block + with_extra, 1))


if __name__ == "__main__":
    main(*sys.argv[1:])
