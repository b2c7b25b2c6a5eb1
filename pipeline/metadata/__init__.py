"""Every ML Metadata read of the product: the store, runs, the lineage graph and a model's trace."""
