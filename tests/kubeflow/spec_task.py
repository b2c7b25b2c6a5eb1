"""A stand-in container task for the spec runner's tests: a KFP v2 executor in a few lines.

    python spec_task.py --executor_input '{...}'

It does what a real task does with its ExecutorInput, without TensorFlow: writes a file into
each output artifact's URI and an executor output reporting `blessed` (the `blessed` input
parameter) and `current_model_id` (the name of its `model` input) on every output artifact,
as TFX's Evaluator reports a blessing. With a nonzero `fail` parameter it prints a line and
exits 3, as a task that crashes.
"""

import argparse
import json
import os
import sys


def main() -> int:
    """Runs the task described by `--executor_input`; returns its exit status."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--executor_input", required=True)
    executor_input = json.loads(parser.parse_args().executor_input)
    parameters = executor_input["inputs"].get("parameterValues", {})
    if parameters.get("fail"):
        print("spec_task: failing as asked")
        return 3
    models = executor_input["inputs"].get("artifacts", {}).get("model", {}).get("artifacts", [])
    model_id = models[0]["name"] if models else ""
    metadata = {"blessed": parameters.get("blessed", 0), "current_model_id": model_id}
    outputs = executor_input["outputs"]
    reported = {}
    for key, listed in outputs.get("artifacts", {}).items():
        for artifact in listed["artifacts"]:
            os.makedirs(artifact["uri"], exist_ok=True)
            with open(os.path.join(artifact["uri"], "done"), "w") as f:
                f.write(key)
        reported[key] = {
            "artifacts": [
                {**listed_artifact, "metadata": metadata} for listed_artifact in listed["artifacts"]
            ]
        }
    with open(outputs["outputFile"], "w") as f:
        json.dump({"artifacts": reported}, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
