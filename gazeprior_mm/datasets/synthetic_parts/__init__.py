"""Parts of the synthetic chest-X-ray + gaze generator.

``anatomy`` (patients and their normal radiograph), ``findings`` (lesions and their
masks), ``readers`` (simulated radiologists' fixations) and ``stats`` (realism and
gaze-lesion statistics). ``gazeprior_mm.datasets.synthetic`` puts them together.
"""
