"""The `lightrank` sub-commands of the pipeline layer; `lightrank.cli` wires them in."""
