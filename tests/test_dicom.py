"""DICOM reader: the real RG1 radiograph (pydicom-data) and small hand-made files."""
import numpy as np
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from gazeprior_mm.datasets.dicom import dicom_size, read_dicom_image

SECONDARY_CAPTURE = '1.2.840.10008.5.1.4.1.1.7'


@pytest.fixture(scope='module')
def rg1_path():
    return get_testdata_file('RG1_UNCR.dcm')


def write_dicom(path, pixels, photometric='MONOCHROME2', window=None,
                rescale=None, samples=1, frames=None):
    """A minimal uncompressed DICOM holding ``pixels`` (uint16)."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SECONDARY_CAPTURE
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = SECONDARY_CAPTURE
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = 'CR'
    # (frames,) rows, cols for grayscale; rows, cols, 3 for colour
    ds.Rows, ds.Columns = pixels.shape[:2] if samples == 3 else pixels.shape[-2:]
    if samples == 3:
        ds.PlanarConfiguration = 0
    ds.SamplesPerPixel = samples
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 12, 11
    ds.PixelRepresentation = 0
    if frames:
        ds.NumberOfFrames = frames
    if window is not None:
        ds.WindowCenter, ds.WindowWidth = window
    if rescale is not None:
        ds.RescaleSlope, ds.RescaleIntercept = rescale
    ds.PixelData = np.ascontiguousarray(pixels, dtype=np.uint16).tobytes()
    ds.save_as(str(path), enforce_file_format=True)
    return str(path)


def roi_means(img):
    """Mean of the two lung ROIs and of the mediastinum/spine ROI (fractions)."""
    h, w = img.shape

    def box(y0, y1, x0, x1):
        return img[int(y0 * h):int(y1 * h), int(x0 * w):int(x1 * w)].mean()
    lung = 0.5 * (box(.25, .45, .18, .35) + box(.25, .45, .65, .82))
    return lung, box(.2, .6, .46, .54)


def test_rg1_real_radiograph(rg1_path):
    assert dicom_size(rg1_path) == (1955, 1841)
    img = read_dicom_image(rg1_path)  # VOI window 15000/30000, MONOCHROME1
    assert img.dtype == np.uint8 and img.shape == (1955, 1841)
    lung, mediastinum = roi_means(img.astype(float))
    # inversion makes the air-filled lungs darker than the spine / mediastinum
    assert lung < 0.8 * mediastinum
    assert 0.55 <= lung / mediastinum <= 0.75
    pct = read_dicom_image(rg1_path, window='percentile')
    lung_p, med_p = roi_means(pct.astype(float))
    assert lung_p < 0.8 * med_p
    assert pct.std() > img.std()  # the 1-99% window is tighter than 0..30000
    with pytest.raises(ValueError, match='window'):
        read_dicom_image(rg1_path, window='bogus')


def test_voi_window_and_rescale(tmp_path):
    raw = np.arange(256, dtype=np.uint16).reshape(16, 16) * 16  # 0..4080
    path = write_dicom(tmp_path / 'a.dcm', raw, window=(1000, 2000), rescale=(2, -100))
    assert dicom_size(path) == (16, 16)
    img = read_dicom_image(path)
    values = raw * 2.0 - 100.0
    expected = np.round(np.clip(values / 2000.0, 0, 1) * 255).astype(np.uint8)
    np.testing.assert_array_equal(img, expected)
    # MONOCHROME1 of the same data is the exact inverse
    inv = read_dicom_image(write_dicom(tmp_path / 'b.dcm', raw, 'MONOCHROME1',
                                       window=(1000, 2000), rescale=(2, -100)))
    np.testing.assert_array_equal(inv.astype(int), 255 - expected.astype(int))


def test_percentile_window_without_voi(tmp_path):
    rng = np.random.default_rng(0)
    raw = rng.integers(0, 4000, (20, 24)).astype(np.uint16)
    path = write_dicom(tmp_path / 'c.dcm', raw)
    assert dicom_size(path) == (20, 24)
    img = read_dicom_image(path)
    lo, hi = np.percentile(raw.astype(float), (1, 99))
    expected = np.round(np.clip((raw - lo) / (hi - lo), 0, 1) * 255).astype(np.uint8)
    np.testing.assert_array_equal(img, expected)
    assert img.shape == (20, 24)
    with pytest.raises(ValueError, match='c.dcm.*WindowCenter'):
        read_dicom_image(path, window='voi')


def test_bad_inputs_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='missing.dcm'):
        read_dicom_image(str(tmp_path / 'missing.dcm'))
    junk = tmp_path / 'junk.dcm'
    junk.write_bytes(b'not a dicom at all' * 10)
    with pytest.raises(ValueError, match='junk.dcm'):
        dicom_size(str(junk))
    flat = write_dicom(tmp_path / 'flat.dcm', np.full((8, 8), 7, np.uint16))
    with pytest.raises(ValueError, match='flat.dcm.*window'):
        read_dicom_image(flat)
    rgb = write_dicom(tmp_path / 'rgb.dcm', np.zeros((4, 5, 3), np.uint16), 'RGB',
                      samples=3)
    with pytest.raises(ValueError, match='rgb.dcm.*grayscale'):
        read_dicom_image(rgb)
    multi = write_dicom(tmp_path / 'multi.dcm', np.zeros((2, 4, 4), np.uint16),
                        frames=2)
    with pytest.raises(ValueError, match='multi.dcm.*multi-frame'):
        read_dicom_image(multi)


def test_undecodable_pixel_data_names_the_file(tmp_path):
    from pydicom import dcmread
    from pydicom.encaps import encapsulate
    from pydicom.uid import JPEG2000Lossless
    path = write_dicom(tmp_path / 'j2k.dcm', np.zeros((8, 8), np.uint16))
    ds = dcmread(path)
    ds.file_meta.TransferSyntaxUID = JPEG2000Lossless
    ds.PixelData = encapsulate([b'\x00\x01 not a jpeg 2000 codestream \x02' * 4])
    ds['PixelData'].is_undefined_length = True
    ds.save_as(path)
    assert dicom_size(path) == (8, 8)  # the header alone still reads
    with pytest.raises(ValueError, match='j2k.dcm.*cannot decode'):
        read_dicom_image(path)
