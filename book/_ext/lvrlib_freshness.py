"""Sphinx extension: re-execute the notebooks when lvrlib's code or the profile changes.

Sphinx re-reads only the source files that changed, so a notebook whose own text is
unchanged would keep outputs computed by an older lvrlib. This marks every notebook
outdated when the key below (a hash of every lvrlib module and the environment variables that
select data, profile and generator) differs from the one of the last build.
"""
import os

ENV_VARS = ("LVRLIB_PROFILE", "LVRLIB_CHECKPOINT", "LVRLIB_RESULTS", "LVRLIB_CELEBA_ROOT",
            "LVRLIB_LFW_ROOT", "LVRLIB_CACHE")


def _key() -> str:
    import hashlib
    from pathlib import Path

    import lvrlib

    pkg = Path(lvrlib.__file__).parent
    h = hashlib.sha256()
    for p in sorted(pkg.rglob("*.py")) + sorted((pkg / "weights").glob("*.json")):
        h.update(p.relative_to(pkg).as_posix().encode())
        h.update(p.read_bytes())
    return h.hexdigest() + "|" + "|".join(f"{v}={os.environ.get(v, '')}" for v in ENV_VARS)


def _outdated(app, env, added, changed, removed):
    key = _key()
    if getattr(env, "lvrlib_key", None) != key:
        env.lvrlib_key = key
        return [d for d in env.found_docs if d.startswith("notebooks/")]
    return []


def setup(app):
    app.connect("env-get-outdated", _outdated)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "env_version": 1}
