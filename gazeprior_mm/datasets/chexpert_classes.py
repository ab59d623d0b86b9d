"""The 14 CheXpert observations: the label vocabulary of every data source.

Its own module so that the dataset, the converters and the synthetic generator
all import it from here, and none of them imports another for it.
"""

#: CheXpert's 14 observations, in CheXpert's order.
CHEXPERT_CLASSES = (
    'No Finding', 'Enlarged Cardiomediastinum', 'Cardiomegaly', 'Lung Opacity',
    'Lung Lesion', 'Edema', 'Consolidation', 'Pneumonia', 'Atelectasis',
    'Pneumothorax', 'Pleural Effusion', 'Pleural Other', 'Fracture',
    'Support Devices')
