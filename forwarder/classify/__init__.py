"""Topic classification and place recognition for complaints.

Public surface (implemented in the submodules):

* :func:`load_model(path) <forwarder.classify.model.load_model>` -> ``TopicModel`` with
  ``version: str``, ``labels: frozenset[str]``, ``card: dict`` and
  ``predict(texts: Sequence[str]) -> list[Tag]``; raises :class:`~forwarder.errors.ModelError`.
* :class:`Gazetteer <forwarder.classify.places.Gazetteer>`: kecamatan/desa of one kabupaten,
  ``Gazetteer.for_kabupaten("Bojonegoro").find(text) -> Place | None``.
"""
