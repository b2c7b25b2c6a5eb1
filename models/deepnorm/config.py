"""Hyper-parameters of the DeepNorm light ranker and of its training loop.

`DeepNormConfig` holds what shapes the network and its loss (with the original's argparse
defaults), `TrainingConfig` how it is fitted (docs/model.md, "DeepNorm" and "Training").
Both validate on construction, so an impossible value fails where it is written rather than
deep inside Keras, and both travel as JSON inside the TFX Trainer's `custom_config`
(`model_dump(mode="json")` out, `model_validate` back in).

`PRESETS` names the starting points: "original" reproduces the original's defaults
exactly, "default" is the port's recommended starting point for new training, "one_bag" the
default before it used its ids feature by feature (docs/model.md, "Presets" and "Ids").
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Annotated, Literal

from pydantic import Field, model_validator

from lightrank.models.config_model import ConfigModel
from lightrank.models.features import DEFAULT_MISSING_VALUE

#: A task names the one label a model learns: a key of the feature spec's `labels` map, which
#: maps it to a label feature of the schema (docs/own_data.md, Labels). Any identifier works;
#: metric and summary names carry it, so it is kept to letters, digits and `_`.
TaskName = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$")]
#: The original's three tasks, the sample feature spec's labels (docs/model.md, "Data contract"),
#: each with what its label says; the run report's model card words a run's task with it.
TASKS: Mapping[str, str] = MappingProxyType(
    {
        "Sent": "whether the notification was sent",
        "HeavyRankPosition": "whether the heavy ranker placed the candidate in its top 3",
        "HeavyRankProbability": "the heavy ranker's score, as a probability",
    }
)
#: The task a model learns unless the config names another (`model.task`).
DEFAULT_TASK = "HeavyRankPosition"
#: A starting point of `PRESETS`.
PresetName = Literal["default", "original", "one_bag"]

_Momentum = Annotated[float, Field(gt=0.0, lt=1.0)]
_Positive = Annotated[int, Field(ge=1)]
_Regex = Annotated[str, Field(min_length=1)]


class DeepNormConfig(ConfigModel):
    """Architecture and loss hyper-parameters; defaults are the original's.

    Attributes:
        input_size_bits: Hashed sparse ids lie in `[0, 2**input_size_bits)`.
        momentum: Decay of the z-score EMAs and of the merge BN (momentum and renorm momentum).
        dropout: Input dropout rate of both the dense and the sparse branch.
        sparse_embedding_size: Width S of the sparse sum-embedding.
        dense_embedding_size: Width E of the continuous (and missing) embedding.
        num_mlp_layers: Hidden layers of the MLP pool; 0 feeds the merge straight to the logit.
        mlp_neuron_scale: Hidden layer l has `mlp_neuron_scale ** (num_mlp_layers + 1 - l)` units.
        use_missing_sub_branch: Mask the missing marker (not zeros) and embed the missing pattern.
        use_record_weight: Weight the loss by `clip(1/(1 + meta.weight + smooth), min, 1)`.
        smooth_weight: The `smooth` term of the record weight.
        min_record_weight: Lower clip of the record weight.
        task: Which label the model learns; it only affects metrics (labels arrive ready-made).
        adaptive_transform: Group-wise transformation variant; the light ranker used "tiny".
        adaptive_bn_momentum: Momentum of the BN after the group-wise transformation (a code constant).
        missing_value: The materialised missing marker, compared in float32.
        trainable_regexes: If set, only variables whose name `re.match`es one (case-insensitive)
            train. A tuple; JSON lists are accepted so the setting survives `custom_config`.
        sparse_bags: "one" (the original): every hashed id of every sparse feature summed into one
            S-wide bag; "per_feature": one S-wide bag per sparse feature, concatenated, so the
            network can tell the features apart (reads Transform's `sparse_slots` too).
        pairwise: "none" (the original) or "fm": a factorization machine's pairwise term over the
            per-feature bags, added to the logit (needs `sparse_bags: per_feature`).
        fm_user_features: With `fm_candidate_features`, full-match regexes over the sparse feature
            names that pick the user side and the candidate side: the FM term then sums only
            user x candidate pairs. Both unset: the feature spec's `sides`, else all pairs.
        fm_candidate_features: See `fm_user_features`.
        fm_embedding_size: Width P of each feature's FM embedding (extra columns of the bags' table).
        fm_all_pairs: Multiply all pairs of features even when the feature spec names `sides`.
        id_bias: Add one learned weight per hashed id to the logit (an FM's first-order term, a
            wide model's): an id's own effect without the detour through the MLP (not in the original).
        continuous_log: Compress every present continuous value to `sign(x) * log1p(|x|)` before
            the z-score (not in the original): heavy-tailed counts stop crowding near the mean.
    """

    input_size_bits: Annotated[int, Field(ge=1, le=30)] = 18
    momentum: _Momentum = 0.99999
    dropout: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.2
    sparse_embedding_size: _Positive = 50
    dense_embedding_size: _Positive = 128
    num_mlp_layers: Annotated[int, Field(ge=0)] = 3
    mlp_neuron_scale: _Positive = 4
    use_missing_sub_branch: bool = False
    use_record_weight: bool = False
    smooth_weight: Annotated[float, Field(ge=0.0)] = 0.0
    min_record_weight: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0
    task: TaskName = DEFAULT_TASK
    adaptive_transform: Literal["tiny", "default"] = "tiny"
    adaptive_bn_momentum: _Momentum = 0.9999
    missing_value: float = DEFAULT_MISSING_VALUE
    trainable_regexes: Annotated[tuple[_Regex, ...], Field(min_length=1, strict=False)] | None = None
    sparse_bags: Literal["one", "per_feature"] = "one"
    pairwise: Literal["none", "fm"] = "none"
    fm_user_features: _Regex | None = None
    fm_candidate_features: _Regex | None = None
    fm_embedding_size: _Positive = 8
    fm_all_pairs: bool = False
    id_bias: bool = False
    continuous_log: bool = False

    @model_validator(mode="after")
    def _pairwise_needs_bags(self) -> DeepNormConfig:
        if self.pairwise == "fm" and self.sparse_bags != "per_feature":
            raise ValueError("pairwise 'fm' multiplies per-feature bags: it needs sparse_bags 'per_feature'")
        sides = (self.fm_user_features, self.fm_candidate_features)
        if (sides[0] is None) != (sides[1] is None):
            raise ValueError("fm_user_features and fm_candidate_features go together: set both or neither")
        if sides[0] is not None and self.pairwise != "fm":
            raise ValueError("fm_user_features and fm_candidate_features only apply with pairwise 'fm'")
        if sides[0] is not None and self.fm_all_pairs:
            raise ValueError("fm_all_pairs contradicts fm_user_features and fm_candidate_features: set one")
        return self

    @property
    def mlp_widths(self) -> tuple[int, ...]:
        """Hidden widths, e.g. (64, 16, 4) for the defaults (docs/model.md, "DeepNorm")."""
        n = self.num_mlp_layers
        return tuple(self.mlp_neuron_scale ** (n + 1 - layer) for layer in range(1, n + 1))


class TrainingConfig(ConfigModel):
    """How the light ranker is fitted; defaults are the original's (docs/model.md, "Training").

    Attributes:
        optimizer: "sgd" (the original), "adagrad" or "adam"; always the legacy Keras classes,
            whose SGD and Adagrad update the 2**18-row embedding sparsely (legacy Adam still
            rescales its moment slots densely, so it is much slower per step).
        learning_rate: Constant learning rate (the original's decay schedule never decayed).
        batch_size: Training and evaluation batch size; used by whoever batches the datasets.
        eval_every_steps: Evaluate every this many steps; None evaluates only at the end of training
            (the original's one full pass, `train.steps = -1`).
        max_steps: Stop after this many steps; None runs until the data ends or early stopping.
        early_stop_patience: Stop after this many consecutive evaluations without improvement of
            `early_stop_metric`; None disables early stopping (the original's -1).
        early_stop_min_delta: An evaluation improves only if it beats the best by more than this.
        early_stop_metric: What picks the best evaluation (and stops training): the unweighted
            RCE in percent ("rce", the original's), or the unweighted NRCE ("nrce"), the RCE of
            the predictions rescaled to the eval split's positive rate. A model's mean prediction
            can drift away from the eval rate while its ranking still improves, so RCE falls
            and stops training early on a poor ranker; NRCE does not see a drift of the level.
        seed: Seeds TF's global generator (dropout, initialisers); None leaves it unseeded.
    """

    optimizer: Literal["sgd", "adagrad", "adam"] = "sgd"
    learning_rate: Annotated[float, Field(gt=0.0)] = 0.002
    batch_size: _Positive = 32
    eval_every_steps: _Positive | None = None
    max_steps: _Positive | None = None
    early_stop_patience: _Positive | None = None
    early_stop_min_delta: Annotated[float, Field(ge=0.0)] = 0.0
    early_stop_metric: Literal["rce", "nrce"] = "rce"
    seed: int | None = None


#: Named (model, training) starting points. "original" is the original's argparse defaults:
#: missing branch off, plain SGD at 0.002, batch 32, one pass, no early stopping. "default"
#: is the best measured on the sample data: the missing marker masked properly, Adagrad at
#: 0.1 (sparse updates of the hashed table, per-coordinate rates for rarely seen ids), batch
#: 256, momentum 0.99 instead of 0.99999 (with 0.99999 the merge batch renormalisation keeps
#: its initial statistics for ~1e5 steps), an evaluation every 300 steps and early stopping
#: on the unweighted RCE after 3 evaluations without improvement, within 3,000 steps (about
#: 10 passes over the sample's 80k training candidates). The evidence is BENCHMARKS.md,
#: "DeepNorm settings" (`make bench`): one change at a time from the preset, eval RCE on
#: held-out requests. Two sweeps from the same settings at Adagrad 0.05, on two pipeline
#: runs' Transform outputs, read: 0.05 16.48 / 16.35; 0.1 17.18 / 17.73 (hence 0.1); 0.02
#: 16.17 / 12.14; plain SGD at 0.05 8.94 / 9.07; batch 1,024 at 0.1 14.94 / 16.40; missing
#: branch off 16.20 / 15.86; momentum 0.999 8.96 / 9.36; a 6,000-step budget 16.71 / 16.35
#: (it stops early before 4,200); the original preset -231.6 after its single pass. Training
#: is seeded: one Transform output gave the same numbers again; another pipeline run's
#: Transform output of the same data moves them as the two columns show. Legacy Adam updates
#: its slots densely (~3.6k examples/s at batch 256), so it is not used.
#:
#: Since 2026-12-06 "default" also uses its ids feature by feature; its earlier settings are
#: the "one_bag" preset (docs/model.md, "Ids"). The evidence is BENCHMARKS.md, "Ids, sample
#: data" and "Ids, catalog data set" (`make bench`): each row one change from "default", seeded,
#: with each model's serving cost. The choice was made on a first pipeline run's sample
#: Transform output (below); `make bench`'s own run of 2026-12-07 gave "default" 0.8646 / 0.4811
#: on the sample and one summed bag without FM 0.8686 / 0.5155: on the sample the form of the
#: ids is within noise, on the catalog the per-feature bags lead by 0.024 AUC. AUC / recall of
#: the heavy top 3 in the light top 10 on that first run, sample then catalog: "default"
#: 0.8669 / 0.5155 (FM over the spec's user x candidate
#: sides) and 0.6554 / 0.3819 (all pairs: the catalog spec names no sides); the FM over all
#: pairs on the sample 0.8639 / 0.5120, over the sides on the catalog 0.6559 / 0.3958; no FM
#: term 0.8617 / 0.5120 and 0.6559 / 0.3889; one summed 50-wide bag (no FM) 0.8553 / 0.5189
#: and 0.6319 / 0.2986; raw floats instead of `continuous_log` 0.8385 / 0.4124 and 0.6554 /
#: 0.4028; dropout 0.2 0.8502 / 0.4364 and 0.6270 / 0.3542; 128-wide embeddings 0.8631 /
#: 0.4880 and 0.6555 / 0.3681 at 265 and 227 kFLOP per candidate (default: 114 and 90;
#: original: 102 and 99); "one_bag" 0.8206 / 0.4124 and 0.6359 / 0.3194 at 246 and 240
#: kFLOP. LightGBM on the raw features: 0.8647 / 0.4914 and 0.6272 / 0.3333; logistic
#: regression 0.8341 / 0.4467 and 0.6287 / 0.4167. One AUC's standard error is about 0.014
#: (sample) and 0.019 (catalog): read single rows as a direction, not as a ranking.
#:
#: Since 2026-12-07 "default" may train 6,000 steps rather than 3,000. On data ten times the
#: sample (837 eval requests) the 3,000-step model was still improving when it stopped; with the
#: larger budget it stopped early at 5,100 steps (best at 4,200), and the paired bootstrap over
#: the eval requests (BENCHMARKS.md, quality table) put it ahead: AUC 0.9245 against 0.9189,
#: recall (10, 3) 0.6420 against 0.6109, both intervals above 0. On the catalog at 4,000
#: requests: AUC 0.7190 against 0.7140 (ahead), recall (10, 3) 0.5083 against 0.5058 (a tie). On
#: the sample itself early stopping ends training at 2,400 steps either way.
#:
#: Wider ids were measured on 2026-12-07; since then they are the default's settings for train
#: splits of 150,000 candidates or more (`lightrank.models.scaling.PRESET_SCALING`). On the
#: catalog at 4,000 requests the fair LightGBM leads 8-wide "default" in recall (10, 3) (0.5125
#: against 0.4908; seeds 1 to 3: 0.4863, 0.4817, 0.4846). 16-wide bags and FM embeddings,
#: 48-wide dense embeddings and a patience of 5 (`model.deepnorm: {sparse_embedding_size: 16,
#: fm_embedding_size: 16, dense_embedding_size: 48}`, `model.training: {early_stop_patience:
#: 5}`) lead it on three
#: pipeline runs of the same data: seeds 0 to 2 gave AUC 0.7186 / 0.7192 / 0.7195 and recall
#: 0.5229 / 0.5292 / 0.5229 (LightGBM 0.7103 / 0.5125); 0.7216 / 0.5200 and 0.7166 / 0.5196
#: (LightGBM 0.7047 / 0.4992); 0.7215 / 0.5121, 0.7220 / 0.5271 and 0.7208 / 0.5300 (LightGBM
#: 0.7058 / 0.5004). On ten times the sample they are within seed noise of "default" (0.9223 to
#: 0.9266 / 0.6237 to 0.6436 against 0.9244 / 0.6404), at 144.3 kFLOP per candidate (1.41x the
#: original's 102.0). They are not used on small splits because on the catalog at its default 240
#: requests (48 eval requests, docs/own_data.md's worked example) they overfit within 600 steps:
#: seeds 0 and 1 ended at RCE -0.67 and -1.59 (the eval split clicks 1.5x as often as train), so
#: the inferred config's gate `rce_unweighted >= 0` rejected the model and nothing was pushed;
#: "default" gave 1.24 and 3.90 there. The patience of 5 is for the wider bags: with 3, one seed
#: stopped at a plateau 2,000 steps short of its best (0.6928 / 0.4500; with 5, 0.7138 / 0.5096).
#: Also measured on top of the wider settings (seed 0) and worse in one metric or both: the
#: first-order id term (`id_bias`) 0.7141 / 0.5054, dropout 0.05 0.7108 / 0.5108, 32-wide FM
#: embeddings 0.7174 / 0.5175, batch 512 0.7035 / 0.4904, Adagrad at 0.15 0.7212 / 0.5225. All
#: are `lightrank-bench quality` rows on three pipeline runs of the catalog as `make bench` makes
#: them (`runs/bench/catalog-large`, the same 4,000 requests each time).
#:
#: Since 2026-12-07 "default" stops early on NRCE rather than RCE, and its models are Platt-
#: calibrated unless the config says otherwise (`lightrank.models.settings.PRESET_CALIBRATION`).
#: Three seeds of the RCE-stopped preset on the sample's `make bench` Transform output gave AUC /
#: recall (10, 3) 0.8696 / 0.4639, 0.8576 / 0.4845 and 0.7282 / 0.1856: seed 2's mean prediction
#: drifted to 4.6x the eval rate by step 1,800 while its AUC rose to 0.8622, and RCE stopped it
#: at its first evaluation. Stopped on NRCE, seed 2 gave 0.8622 / 0.4948 and seeds 0 and 1 the
#: same as before. On the catalog at 4,000 requests the two choices tie (pooled over three
#: seeds: 0.7173 / 0.4958 on NRCE, 0.7155 / 0.4964 on RCE), and at 240 requests two of three
#: seeds stop at the same step. docs/model.md, "Early stopping". With three seeds pooled, the
#: wider ids above are ahead of "default" on the catalog at 4,000 requests (`make bench`,
#: 2026-12-07 12:33: AUC 0.7225 / recall 0.5274 against 0.7145 / 0.4907) and tie it on small
#: data (catalog at 240 requests: 0.6363 / 0.3588 against 0.6552 / 0.3634; sample: 0.8561 /
#: 0.4605 against 0.8632 / 0.4811). Dropout 0.2 on top of them (seeds 0 to 2) kept every RCE
#: positive on the 240-request catalog (1.36, 1.96, 3.62) but cost the sample (seeds 0, 1:
#: 0.8553 / 0.4570 and 0.8417 / 0.4089) and did not help at 4,000 requests (0.7096 to 0.7203 /
#: 0.5071 to 0.5217). With `lightrank.models.scaling` choosing them from 150,000 train
#: candidates on (2026-12-07 15:12 and 15:31, three seeds pooled, paired bootstrap): on the
#: catalog at 4,000 requests "default" is ahead of LightGBM in AUC (0.7208 against 0.7053) and
#: recall (10, 3) (0.5208 against 0.5028; +0.0024 to +0.0326) and ties the 8-wide preset (0.7174
#: / 0.5044); on ten times the sample ahead of LightGBM (0.9249 / 0.6389 against 0.9121 /
#: 0.5752) and tied with the 8-wide preset (0.9258 / 0.6361).
_ADAGRAD = TrainingConfig(
    optimizer="adagrad",
    learning_rate=0.1,
    batch_size=256,
    eval_every_steps=300,
    max_steps=3000,
    early_stop_patience=3,
    early_stop_min_delta=0.0,
    seed=0,
)
_ONE_BAG = DeepNormConfig(use_missing_sub_branch=True, momentum=0.99)
PRESETS: dict[PresetName, tuple[DeepNormConfig, TrainingConfig]] = {
    "original": (DeepNormConfig(), TrainingConfig()),
    "default": (
        DeepNormConfig.model_validate(
            {
                **_ONE_BAG.model_dump(),
                "sparse_bags": "per_feature",
                "sparse_embedding_size": 8,
                "pairwise": "fm",
                "fm_embedding_size": 8,
                "continuous_log": True,
                "dense_embedding_size": 64,
                "dropout": 0.1,
            }
        ),
        _ADAGRAD.model_copy(update={"max_steps": 6000, "early_stop_metric": "nrce"}),
    ),
    "one_bag": (_ONE_BAG, _ADAGRAD),
}
