"""`lightrank schema infer`: a starting schema, feature spec and config from a team's own data.

A team bringing its own candidates needs the three files `lightrank run` reads
(docs/configuration.md, "Starting a schema: lightrank schema infer"). Writing them by hand
from `tfdv.infer_schema` means learning this project's conventions first (value counts, not
shapes; presence bounds below the observed share; the 1e15 bound; labels out of SERVING), so
this package does it from TFDV statistics and says what it guessed:

- `sources`: the `--data` arguments as files, unnamed or as named splits;
- `statistics`: TFDV statistics over every file, plus the facts the guesses need;
- `roles`: the request key, labels, weight and heavy score, given or guessed;
- `schema`: the tightened `schema.pbtxt`, with comments;
- `writer`: `feature_spec.yaml` and `config.yaml`, published atomically;
- `summary`: what a person reads afterwards.

No module loads TensorFlow or TFDV when it is imported, only the functions that need them,
so `lightrank --help` stays fast.
"""

from __future__ import annotations

from lightrank.errors import UserError


class SchemaInferError(UserError):
    """The data or the flags of `lightrank schema infer` cannot give a schema; the message says why."""
