"""Topic classification and place recognition for complaints.

Public surface (implemented in the submodules):

* :func:`load_model(path) <forwarder.classify.model.load_model>` -> ``TopicModel`` with
  ``version: str``, ``labels: frozenset[str]``, ``card: dict`` and
  ``predict(texts: Sequence[str]) -> list[Tag]``; raises :class:`~forwarder.errors.ModelError`.
  Loading and predicting need numpy only (``model.npz``, :mod:`forwarder.classify.modelfile`);
  scikit-learn is imported by training and evaluation (:mod:`forwarder.classify.train`) only.
* :func:`check_topics(model, config_topics, fallback) <forwarder.classify.model.check_topics>`:
  warnings about topics without a group and groups whose topic the model never emits.
* :mod:`forwarder.classify.store`: the model store behind ``forwarder model train|evaluate|
  promote|rollback|list|show`` (versions, a ``current`` pointer, history).
* :class:`Gazetteer <forwarder.classify.places.Gazetteer>`: kecamatan/desa of one kabupaten,
  ``Gazetteer.for_kabupaten("Bojonegoro").find(text) -> Place | None``.
"""
