"""A minimal scikit-learn compatible parameter API, without depending on scikit-learn."""

from __future__ import annotations

import inspect
import sys
import warnings
from typing import Any

from .exceptions import NotFittedError


class ParamsMixin:
    """``get_params`` / ``set_params`` / ``repr`` from the ``__init__`` signature.

    Follows scikit-learn's estimator contract, so :func:`sklearn.base.clone` and
    grid searches work: ``__init__`` stores each keyword argument under its own name
    and does nothing else.
    """

    @classmethod
    def _get_param_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        return sorted(
            name
            for name, p in signature.parameters.items()
            if name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
        )

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Parameters of this estimator, as a dict of name to value."""
        return {name: getattr(self, name) for name in self._get_param_names()}

    def set_params(self, **params: Any) -> ParamsMixin:
        """Set parameters by name and return ``self``.

        On a fitted model the new values take effect at the next ``fit`` (a
        :class:`UserWarning` says so): until then ``predict``, ``recommend`` and ``save``
        follow the configuration ``fit`` used, ``fit_params_``.

        Raises
        ------
        ValueError
            If a name is not a parameter of this estimator.
        """
        valid = self._get_param_names()
        for name in params:
            if name not in valid:
                raise ValueError(
                    f"invalid parameter {name!r} for {type(self).__name__}; "
                    f"valid parameters are: {', '.join(valid)}"
                )
        changed = [name for name, value in params.items() if not _same(getattr(self, name), value)]
        if changed and hasattr(self, "fit_params_"):
            shown = ", ".join(f"{name}={params[name]!r}" for name in changed)
            warnings.warn(
                f"set_params({shown}) on a fitted {type(self).__name__} takes effect at the "
                "next fit; until then predict, recommend and save use the configuration fit "
                "used (fit_params_)",
                UserWarning,
                stacklevel=2,
            )
        for name, value in params.items():
            setattr(self, name, value)
        return self

    def __sklearn_tags__(self) -> Any:
        """The estimator tags scikit-learn 1.6 and later ask for (``GridSearchCV``,
        ``cross_val_score``); only scikit-learn calls this, so autorec never imports it.
        The input is a ratings frame, and no target ``y`` is needed."""
        utils = sys.modules["sklearn.utils"]  # loaded: only scikit-learn calls this

        return utils.Tags(
            estimator_type=None,
            target_tags=utils.TargetTags(required=False),
            transformer_tags=None,
            classifier_tags=None,
            regressor_tags=None,
        )

    def __repr__(self) -> str:
        signature = inspect.signature(type(self).__init__)
        changed = []
        for name in self._get_param_names():
            default = signature.parameters[name].default
            value = getattr(self, name)
            try:
                same = bool(value == default) if type(value) is type(default) else False
            except Exception:
                same = False
            if not same:
                changed.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(changed)})"


def _same(a: Any, b: Any) -> bool:
    """Whether two parameter values are the same (identical, or equal scalars)."""
    if a is b:
        return True
    try:
        return type(a) is type(b) and bool(a == b)
    except Exception:
        return False


def check_is_fitted(estimator: object, attribute: str) -> None:
    """Raise :class:`~autorec.exceptions.NotFittedError` unless ``attribute`` is set."""
    if not hasattr(estimator, attribute):
        raise NotFittedError(
            f"this {type(estimator).__name__} instance is not fitted yet; call 'fit' with "
            "a ratings DataFrame before using this method"
        )
