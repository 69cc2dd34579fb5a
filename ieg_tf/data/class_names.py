"""Class names and label tables of public image datasets (public facts).

Label indices follow each dataset's official label order. CIFAR-100 names are
the fine and coarse (superclass) names in index order; `CIFAR100_COARSE_OF_FINE`
is the official fine -> coarse label table (each superclass holds 5 fine
classes).
"""

# fmt: off
CIFAR10 = (
  'airplane', 'automobile', 'bird', 'cat', 'deer',
  'dog', 'frog', 'horse', 'ship', 'truck',
)

CIFAR100_FINE = (
  'apple', 'aquarium_fish', 'baby', 'bear', 'beaver', 'bed', 'bee', 'beetle',
  'bicycle', 'bottle', 'bowl', 'boy', 'bridge', 'bus', 'butterfly', 'camel',
  'can', 'castle', 'caterpillar', 'cattle', 'chair', 'chimpanzee', 'clock',
  'cloud', 'cockroach', 'couch', 'crab', 'crocodile', 'cup', 'dinosaur',
  'dolphin', 'elephant', 'flatfish', 'forest', 'fox', 'girl', 'hamster',
  'house', 'kangaroo', 'keyboard', 'lamp', 'lawn_mower', 'leopard', 'lion',
  'lizard', 'lobster', 'man', 'maple_tree', 'motorcycle', 'mountain', 'mouse',
  'mushroom', 'oak_tree', 'orange', 'orchid', 'otter', 'palm_tree', 'pear',
  'pickup_truck', 'pine_tree', 'plain', 'plate', 'poppy', 'porcupine',
  'possum', 'rabbit', 'raccoon', 'ray', 'road', 'rocket', 'rose', 'sea',
  'seal', 'shark', 'shrew', 'skunk', 'skyscraper', 'snail', 'snake', 'spider',
  'squirrel', 'streetcar', 'sunflower', 'sweet_pepper', 'table', 'tank',
  'telephone', 'television', 'tiger', 'tractor', 'train', 'trout', 'tulip',
  'turtle', 'wardrobe', 'whale', 'willow_tree', 'wolf', 'woman', 'worm',
)

CIFAR100_COARSE = (
  'aquatic_mammals', 'fish', 'flowers', 'food_containers',
  'fruit_and_vegetables', 'household_electrical_devices',
  'household_furniture', 'insects', 'large_carnivores',
  'large_man-made_outdoor_things', 'large_natural_outdoor_scenes',
  'large_omnivores_and_herbivores', 'medium_mammals',
  'non-insect_invertebrates', 'people', 'reptiles', 'small_mammals', 'trees',
  'vehicles_1', 'vehicles_2',
)

# CIFAR100_COARSE_OF_FINE[fine_label] = coarse_label.
CIFAR100_COARSE_OF_FINE = (
   4,  1, 14,  8,  0,  6,  7,  7, 18,  3,  # 0-9
   3, 14,  9, 18,  7, 11,  3,  9,  7, 11,  # 10-19
   6, 11,  5, 10,  7,  6, 13, 15,  3, 15,  # 20-29
   0, 11,  1, 10, 12, 14, 16,  9, 11,  5,  # 30-39
   5, 19,  8,  8, 15, 13, 14, 17, 18, 10,  # 40-49
  16,  4, 17,  4,  2,  0, 17,  4, 18, 17,  # 50-59
  10,  3,  2, 12, 12, 16, 12,  1,  9, 19,  # 60-69
   2, 10,  0,  1, 16, 12,  9, 13, 15, 13,  # 70-79
  16, 19,  2,  4,  6, 19,  5,  5,  8, 19,  # 80-89
  18,  1,  2, 15,  6,  0, 17,  8, 14, 13,  # 90-99
)

FASHION_MNIST = (
  'T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat',
  'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot',
)
# fmt: on

DIGITS = tuple(str(d) for d in range(10))
