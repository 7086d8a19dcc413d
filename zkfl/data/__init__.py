"""A client's data: loading datasets, salted batches, and float references for evaluation."""
