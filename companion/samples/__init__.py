"""The sample library: content-addressed samples and SoundFonts, their catalog, licences and history.

* :mod:`.formats`: what an uploaded sample really is (WAV, AIFF, FLAC, SF2), one module per format
  behind one base, checked with the real decoders and bounds-checked header parsers.
* :mod:`.models`: the catalog (samples per instrument and articulation, their versions) and the
  history (append-only commits, each naming its changes).
* :mod:`.objects`: putting sample bytes in the object store by content hash, getting them back.
* :mod:`.slicing`: cutting a long recording into samples at onsets or given points.
* :mod:`.audition`: a short rendered preview of one sample.
* :mod:`.service`: add, replace, retire, list, history, with the rights rule.
* :mod:`.api` and :mod:`.cli`: the REST blueprint and ``scripthammer samples ...``.
"""
