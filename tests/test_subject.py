"""What a command is about (flowam.subject): the classes it explains by default."""

from flowam.demo import DEMO_COUNT
from flowam.experiments.common import QUICK_COUNT
from flowam.models import load_classifier
from flowam.subject import DEFAULT_CLASSES, choose_classes


def test_one_default_subset_of_classes_for_the_demo_and_the_quick_experiments():
    _, info = load_classifier()
    demo = choose_classes(info.classes, None, DEMO_COUNT)
    assert demo == ["airplane", "chair", "lamp", "table"]  # four families
    quick = choose_classes(info.classes, None, QUICK_COUNT)
    assert quick == ["airplane", "bed", "car", "chair", "guitar", "lamp", "sofa", "table"]
    assert set(demo) < set(quick) == set(DEFAULT_CLASSES) < set(info.classes)
    assert choose_classes(info.classes, None) == choose_classes(info.classes, "all") == info.classes
    assert choose_classes(info.classes, ["cup", "bed"], DEMO_COUNT) == ["cup", "bed"]
    own = ["a", "b", "c", "d", "e", "f"]  # a model without the default classes: its first
    assert choose_classes(own, None, DEMO_COUNT) == own[:4]
