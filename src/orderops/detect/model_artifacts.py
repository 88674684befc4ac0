"""Model bytes in skops format: what a registry row or a shipped file holds.

A pickle (joblib included) runs whatever code its bytes name when it is read, so a model
file is as dangerous as a script. skops stores the same objects as data and, when
reading, builds only the types it is told to trust: each model kind names its few
non-default types, and bytes naming anything else are refused before anything is built.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable
from typing import Any

from orderops.detect.models.delay_model import ModelFileError

FORMAT = "skops"


def dump_artifact(payload: Any) -> bytes:
    """``payload`` (a dict of plain values and fitted estimators) as compressed skops bytes."""
    import skops.io as sio

    data: bytes = sio.dumps(payload, compression=zipfile.ZIP_DEFLATED, compresslevel=9)
    return data


def load_artifact(data: bytes, *, trusted: Iterable[str], origin: str = "model") -> Any:
    """The payload of ``dump_artifact`` bytes, refusing any type outside ``trusted`` and
    skops' own defaults (``ModelFileError``, nothing built)."""
    import skops.io as sio

    allowed = set(trusted)
    try:
        unknown = set(sio.get_untrusted_types(data=data)) - allowed
        if unknown:
            raise ModelFileError(
                f"{origin} holds types this kind of model never has: {', '.join(sorted(unknown))}"
            )
        return sio.loads(data, trusted=sorted(allowed))
    except ModelFileError:
        raise
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError, AttributeError) as exc:
        raise ModelFileError(f"{origin} is not a readable skops model ({exc})") from exc
