"""Check the command line before Hydra creates any directory or starts any job.

Every value of every swept key is composed once (so an unknown choice or a mistyped
value anywhere in a sweep stops at once, with one line); a single run is also checked
semantically. Combinations of valid values that are semantically wrong (a quorum larger
than a swept replica count) are left to the run, which records them as failed.
"""

from __future__ import annotations

import math
import re
from typing import Any

from omegaconf import DictConfig

from harness import CONF_DIR
from harness.config.schema import register_schemas
from harness.config.validate import ConfigError, omegaconf_line, validate

def check(overrides: list[str], multirun: bool) -> int:
    """Validate; return how many runs the command will launch."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    app = [o for o in overrides if not o.lstrip("+~").startswith("hydra")]
    try:
        parsed = OverridesParser.create().parse_overrides(app)
    except HydraException as exc:
        raise ConfigError(_first_line(exc)) from None
    variants = [(o, _values(o)) for o in parsed]
    if any(len(values) > 1 for _o, values in variants) and not multirun:
        swept = next(o.input_line for o, values in variants if len(values) > 1)
        raise ConfigError(f"{swept}: several values need a sweep; add -m (harness -m {swept})")
    for config in _probe_configs(variants):
        if not multirun:
            validate(config)
    if multirun:
        _check_sweep_config(variants)
    return math.prod(len(values) for _o, values in variants) if variants else 1


def _check_sweep_config(variants: list[tuple[Any, list[str]]]) -> None:
    """Hydra composes a multirun once before sweeping, with the swept overrides left out:
    a key that only the swept choices have (workload.operation_count with
    workload=ycsb_a,ycsb_b) does not exist then."""
    fixed = [o.input_line for o, _values in variants if not o.is_sweep_override()]
    swept = [o.input_line for o, _values in variants if o.is_sweep_override()]
    try:
        compose_config(fixed)
    except ConfigError as exc:
        raise ConfigError(
            f"{exc} (Hydra applies the overrides that are not swept to the defaults before it "
            f"sweeps {' '.join(swept)}: sweep a key inside one choice instead, or set it in that "
            "choice's YAML)"
        ) from None


def _values(override: Any) -> list[str]:
    if override.is_sweep_override():
        return list(override.sweep_string_iterator())
    return [override.get_value_element_as_str()] if not override.is_delete() else [""]


def _probe_configs(variants: list[tuple[Any, list[str]]]) -> list[DictConfig]:
    """One composition per distinct value of each swept key, the others at their first."""
    base = [_line(o, values[0]) for o, values in variants]
    probes = [base]
    for i, (override, values) in enumerate(variants):
        for value in values[1:]:
            probes.append(base[:i] + [_line(override, value)] + base[i + 1 :])
    return [compose_config(p) for p in probes]


def _line(override: Any, value: str) -> str:
    if override.is_delete():
        return override.input_line
    prefix = {"ADD": "+", "FORCE_ADD": "++"}.get(override.type.name, "")
    return f"{prefix}{override.key_or_group}={value}"


def compose_config(overrides: list[str], with_hydra: bool = False) -> DictConfig:
    """Compose ``conf/`` plus plugin YAML with ``overrides``; bad input raises ConfigError."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException, MissingConfigException
    from omegaconf.errors import OmegaConfBaseException

    register_schemas()
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
            return compose(config_name="config", overrides=overrides, return_hydra_config=with_hydra)
    except MissingConfigException as exc:
        raise ConfigError(_missing_choice(exc)) from None
    except OmegaConfBaseException as exc:
        raise ConfigError(omegaconf_line(exc)) from None
    except HydraException as exc:
        cause = exc.__cause__
        if isinstance(cause, OmegaConfBaseException):
            raise ConfigError(omegaconf_line(cause)) from None
        raise ConfigError(_first_line(exc)) from None
    finally:
        GlobalHydra.instance().clear()


def _missing_choice(exc: Any) -> str:
    found = re.search(r"Could not (?:find|load) '([\w/]+?)/([^']+)'", str(exc))
    if not found:
        return _first_line(exc)
    group, value = found.groups()
    options = sorted(getattr(exc, "options", None) or [])
    return f"{group}={value!r}: unknown choice; available: {', '.join(options) or 'none'}"


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__
