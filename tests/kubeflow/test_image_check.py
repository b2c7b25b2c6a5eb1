"""The image imports everything a compiled spec names, and its list cannot drift from the specs."""

from __future__ import annotations

from lightrank.kubeflow import image_check
from lightrank.kubeflow.cloud import PROJECT_ROOT


def test_the_listed_imports_are_what_the_compiled_examples_name():
    assert image_check.listed_paths() == image_check.derived_paths(), (
        "kubeflow/image_imports.txt is stale: run `python -m lightrank.kubeflow.image_check --write`"
    )


def test_every_listed_path_imports_here():
    assert image_check.check(image_check.listed_paths()) == []


def test_the_paths_cover_executors_artifact_types_user_code_and_kfp_modules(vertex_default):
    paths = image_check.import_paths(vertex_default.job["pipelineSpec"])
    assert {
        "lightrank.RunReport",  # an artifact type: TFX's entry point imports its schema title
        "lightrank.components.run_report.component.RunReport_Executor",
        "lightrank.models.trainer.run_fn",
        "lightrank.models.preprocessing.preprocessing_fn",
        "lightrank.components.run_summary",  # `python -m` of the kfp component
        "tfx.types.standard_artifacts.ModelBlessing",
    } <= paths
    assert not any(path.startswith("system.") for path in paths)  # kfp's own types: not imported


def test_a_path_that_does_not_import_is_named_with_its_reason():
    failures = image_check.check(["lightrank.NoSuchReport", "lightrank.components.no_such_module.Executor"])
    assert [failure.split(":")[0] for failure in failures] == [
        "lightrank.NoSuchReport",
        "lightrank.components.no_such_module.Executor",
    ]
    assert "ImportError" in failures[0] and "ModuleNotFoundError" in failures[1]


def test_the_dockerfile_runs_the_check_after_installing_the_package():
    dockerfile = (PROJECT_ROOT / "kubeflow" / "Dockerfile").read_text().replace("\\\n", " ")
    install = dockerfile.index("pip install --no-deps --no-build-isolation .")
    assert dockerfile.index("python -m lightrank.kubeflow.image_check", install) > install


def test_the_list_covers_the_executors_a_config_section_swaps_in():
    """BigQuery input and daily spans change ImportExampleGen's executor; the registry, the Pusher's."""
    assert {
        "tfx.extensions.google_cloud_big_query.example_gen.executor.Executor",  # cloud.bigquery
        "lightrank.components.span_example_gen.Executor",  # data.spans
        "lightrank.components.vertex_pusher.VertexRegistryPusherExecutor",  # cloud.vertex_serving
        "lightrank.components.runtime_trainer.VertexRuntimeTrainerExecutor",  # cloud.vertex_training
    } <= set(image_check.listed_paths())
