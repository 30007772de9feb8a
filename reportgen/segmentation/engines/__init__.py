"""The engines that read, validate, transform and cluster customers: ``local`` (pandas and
scikit-learn in this process) and ``spark`` (Apache Spark). Both end in the same
:func:`reportgen.segmentation.result.finish_segmentation`, so results do not depend on the engine.
"""
