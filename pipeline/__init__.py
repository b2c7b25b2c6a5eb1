"""The light-ranker pipeline: config, `create_pipeline`, runners, CLI and sample data."""
