"""Training-sample generation: CuratorNet triples (``curatornet``) and item pairs (``pairs``)."""
