"""TFX Tuner entry point: `tuner_fn` (referenced by dotted path), and the tuner it returns.

The light ranker trains in its own loop (`lightrank.models.training.loop.train`), not with
`model.fit`, so KerasTuner's `Tuner` (which builds a hypermodel and calls `fit`) does not
apply. `LightRankTuner` is a `BaseTuner` whose `run_trial` trains one candidate setting with
exactly the Trainer's code path (same model builder, datasets, optimizer, early stopping) for
`steps_per_trial` steps and reports the best value on the eval split of the metric early
stopping selects on (`TrainingConfig.early_stop_metric`: unweighted RCE or NRCE). TFX's
Tuner executor writes the best trial's values as the `best_hyperparameters` artifact, which
the Trainer applies on top of the config (`lightrank.models.trainer.run_fn`), so what was
tuned is an artifact in ML Metadata and the Trainer's recorded settings say which values came
from it (docs/model.md, Tuning).
"""

from __future__ import annotations

import logging
import math
import os
from typing import Any

import keras_tuner
import tensorflow as tf
from keras_tuner.engine import base_tuner
from tfx.components.tuner.component import TunerFnResult

from lightrank.models.deepnorm.config import DeepNormConfig, TrainingConfig
from lightrank.models.features import ResolvedFeatures
from lightrank.models.inputs import count_candidates
from lightrank.models.scaling import scale_to_data
from lightrank.models.trainer import build_model, make_datasets
from lightrank.models.training import loop
from lightrank.models.tuning.space import SearchRange, TuningConfig, apply_values, setting_value

logger = logging.getLogger(__name__)


def objective_name(training: TrainingConfig) -> str:
    """The objective: the early-stopping metric on the eval split, unweighted, in percent (maximised)."""
    return f"{training.early_stop_metric}_unweighted"


def define_space(space: TuningConfig, hp: keras_tuner.HyperParameters) -> None:
    """Registers every setting of the search space in `hp`, typed as the setting is."""
    for name, values in space.space.items():
        if isinstance(values, SearchRange):
            sampling = "log" if values.log else "linear"
            if isinstance(setting_value(name, values.min), int):
                step = int(values.step) if values.step is not None else None
                hp.Int(name, int(values.min), int(values.max), step=step, sampling=sampling)
            else:
                hp.Float(name, float(values.min), float(values.max), step=values.step, sampling=sampling)
        else:
            choices = [setting_value(name, value) for value in values]
            if len(choices) == 1:
                hp.Fixed(name, choices[0])
            elif all(isinstance(choice, bool) for choice in choices):
                hp.Boolean(name)  # KerasTuner's Choice would hand bools back as 0 / 1
            else:
                hp.Choice(name, choices, ordered=False)


def make_oracle(space: TuningConfig, objective_metric: str) -> keras_tuner.Oracle:
    """The search algorithm, maximising `objective_metric` (`objective_name`) within `space.trials` trials."""
    hp = keras_tuner.HyperParameters()
    define_space(space, hp)
    objective = keras_tuner.Objective(objective_metric, direction="max")
    oracle_class = (
        keras_tuner.oracles.BayesianOptimizationOracle
        if space.algorithm == "bayesian"
        else keras_tuner.oracles.RandomSearchOracle
    )
    return oracle_class(
        objective=objective,
        max_trials=space.trials,
        hyperparameters=hp,
        tune_new_entries=False,
        allow_new_entries=False,
        seed=space.seed,
    )


class LightRankTuner(base_tuner.BaseTuner):
    """Trains one setting per trial with the Trainer's own loop; scores it by its early-stopping metric."""

    def __init__(
        self,
        oracle: keras_tuner.Oracle,
        *,
        custom_config: dict[str, Any],
        space: TuningConfig,
        directory: str,
    ) -> None:
        """Builds the tuner.

        Args:
            oracle: From `make_oracle`.
            custom_config: The Trainer's `custom_config` (`model_custom_config`): features,
                kind, task and the preset's settings the trials start from.
            space: The search, for its step budget and seed.
            directory: Where KerasTuner keeps its trial records (the executor's temp dir).
        """
        super().__init__(oracle, hypermodel=None, directory=directory, project_name="lightrank")
        self._custom = custom_config
        self._space = space

    def run_trial(  # type: ignore[override]  (KerasTuner's signature is *args, **kwargs)
        self, trial: keras_tuner.engine.trial.Trial, *, fn_args: Any
    ) -> dict[str, float]:
        """Trains the trial's setting for `steps_per_trial` steps; returns its best early-stopping metric.

        A setting whose loss diverges (NaN) fails as a trial and the search goes on; any other
        error is a fault of the data or the code, not of the setting, and stops the search.
        """
        custom = self._custom
        features = ResolvedFeatures.from_dict(custom["features"])
        deepnorm, training = apply_values(
            trial.hyperparameters.values,
            DeepNormConfig.model_validate(custom["deepnorm"]),
            TrainingConfig.model_validate(custom["training"]),
        )
        training = training.model_copy(
            update={"max_steps": self._space.steps_per_trial, "seed": self._space.seed}
        )
        tf.keras.backend.clear_session()
        tf.keras.utils.set_random_seed(self._space.seed)
        try:
            model, input_keys = build_model(custom["kind"], deepnorm, features)
            train_ds, eval_ds = make_datasets(fn_args, custom["task"], features, input_keys, training)
            result = loop.train(model, train_ds, eval_ds, training, deepnorm, log_dir=None)
        except FloatingPointError as error:
            raise keras_tuner.errors.FailedTrialError(f"the loss diverged: {error}") from error
        except Exception as error:
            raise keras_tuner.errors.FatalError(
                f"trial {trial.trial_id} ({trial.hyperparameters.values}) failed: {error}"
            ) from error
        objective = objective_name(training)
        if not math.isfinite(result.best_value):
            raise keras_tuner.errors.FailedTrialError(f"the eval {objective} is not finite")
        logger.info(
            "trial %s: %s -> eval %s %.4f (best of %d steps, %s)", trial.trial_id,
            trial.hyperparameters.values, objective, result.best_value, result.steps, result.stop_reason,
        )  # fmt: skip
        return {objective: float(result.best_value)}


def tuner_fn(fn_args: Any) -> TunerFnResult:
    """Builds the tuner for TFX's Tuner executor (TFX's `tuner_fn` contract).

    `fn_args.custom_config` is the Trainer's `custom_config` plus `tuning`, the validated
    `TuningConfig` as JSON. Its `data_scaling` rule is applied here, once, so every trial
    starts from the settings the Trainer will use on the same train split.
    """
    custom = dict(fn_args.custom_config)
    space = TuningConfig.model_validate(custom.pop("tuning"))
    scaling = custom.pop("data_scaling", None)
    if scaling:  # every trial starts from the settings the Trainer will scale to
        deepnorm, training, _ = scale_to_data(
            scaling,
            count_candidates(fn_args.train_files),
            DeepNormConfig.model_validate(custom["deepnorm"]),
            TrainingConfig.model_validate(custom["training"]),
        )
        custom["deepnorm"] = deepnorm.model_dump(mode="json")
        custom["training"] = training.model_dump(mode="json")
    tuner = LightRankTuner(
        make_oracle(space, objective_name(TrainingConfig.model_validate(custom["training"]))),
        custom_config=custom,
        space=space,
        directory=os.path.join(fn_args.working_dir, "keras_tuner"),
    )
    return TunerFnResult(tuner=tuner, fit_kwargs={"fn_args": fn_args})
