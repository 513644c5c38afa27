"""The subject's archive: ONE AES-256 encrypted zip file (WinZip AES, deflated) and the password that opens it.

7-Zip (`7z x -pPASSWORD`), WinZip and The Unarchiver/Keka on macOS open it (Windows Explorer's built-in zip
support does not do AES: say so in the message that carries the archive; `OPEN_HINT`). Inside:
`report.html` (the letter), `data.json` (structured, Art. 20), `csv/<dataset>.csv` and `manifest.json` (SHA-256 of
every other file). File names in a zip are not encrypted: they name datasets, never a person.

The password is generated to be read out over the phone: six common English words and a number
(`maple-rocket-gentle-harbor-violin-cactus-482`), from the word list at the end of this module (2,382 plain words,
written for privacyops; no offensive words, no homophone pairs, no number words). It is returned to the caller once and
never written anywhere by privacyops.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
import secrets
from pathlib import Path

PASSWORD_WORDS = 6
NUMBER_LOW, NUMBER_HIGH = 100, 999  # the number at the end: three digits, 900 values
OPEN_HINT = ("The archive is AES-256 encrypted: open it with 7-Zip (Windows, Linux), WinZip, or Keka / The Unarchiver "
             "(macOS) and the password; the zip support built into Windows Explorer cannot open it.")
ARCHIVE_MODE = 0o600  # the archive file and, when extracted by unzip/7z on Unix, each file inside


def word_list() -> tuple[str, ...]:
    """The password words: unique, lowercase a-z, 3 to 9 letters."""
    return _WORDS


def password_bits(words: int = PASSWORD_WORDS) -> float:
    """Entropy of a generated password in bits (uniform choices): words x log2(list size) + log2(numbers)."""
    return words * math.log2(len(_WORDS)) + math.log2(NUMBER_HIGH - NUMBER_LOW + 1)


def generate_password(words: int = PASSWORD_WORDS) -> str:
    """A strong password that is easy to read out: `word-word-word-word-word-word-123` (~77 bits for 6 words)."""
    if words < 6:
        raise ValueError("use at least 6 words (70+ bits)")
    chosen = [secrets.choice(_WORDS) for _ in range(words)]
    return "-".join(chosen + [str(NUMBER_LOW + secrets.randbelow(NUMBER_HIGH - NUMBER_LOW + 1))])


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def manifest(files: dict[str, bytes], **meta) -> bytes:
    """`manifest.json`: the SHA-256 and size of every other file of the archive, plus `meta` (case id, ...)."""
    body = {
        "format": "privacyops-export-manifest/1",
        **meta,
        "files": {name: {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
                  for name, data in files.items()},
    }
    return (json.dumps(body, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def write_archive(path: Path, files: dict[str, bytes], password: str, *, when: dt.datetime | None = None
                  ) -> tuple[int, str]:
    """Write `files` (name -> bytes) into ONE AES-256 zip at `path`; return (size, sha256) of the file.

    The content never touches the disk unencrypted: pyzipper encrypts in memory. The archive is written under a
    temporary name in the same folder and renamed into place, so a crash never leaves half an archive under the
    final name.
    """
    import pyzipper

    if not password:
        raise ValueError("an archive needs a password")
    when = when or dt.datetime.now(dt.timezone.utc)
    stamp = when.timetuple()[:6]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, ARCHIVE_MODE)
    try:
        with os.fdopen(fd, "wb") as fh:
            with pyzipper.AESZipFile(fh, "w", compression=pyzipper.ZIP_DEFLATED,
                                     encryption=pyzipper.WZ_AES) as zf:
                zf.setpassword(password.encode("utf-8"))
                zf.setencryption(pyzipper.WZ_AES, nbits=256)
                for name, data in files.items():
                    info = zf.zipinfo_cls(name, date_time=stamp)
                    info.compress_type = pyzipper.ZIP_DEFLATED
                    info.external_attr = (0o100000 | ARCHIVE_MODE) << 16
                    zf.writestr(info, data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path.stat().st_size, sha256_file(path)


def read_archive(path: Path, password: str) -> dict[str, bytes]:
    """Every file of an archive, decrypted (RuntimeError on a wrong password)."""
    import pyzipper

    with pyzipper.AESZipFile(path) as zf:
        zf.setpassword(password.encode("utf-8"))
        return {name: zf.read(name) for name in zf.namelist()}


_WORDS: tuple[str, ...] = tuple("""
able about above absent absorb accent accept access account acorn acoustic acrobat across act action active actor
actual adapt add address adjust admiral admire adopt adore adult advance adventure advice aerial afford afraid after
afternoon again age agenda agent agree ahead aim air airline airport aisle alarm album alcove alert alive alley
allow almanac almond alone along alpaca alpha already also alter altitude always amateur amazed amazing amber
ambulance among amount ample amulet amuse anagram anchor ancient angel angle animal ankle annex annual answer
antenna anthem anyone anyway apart applaud apple approve apricot april apron aquarium aquatic arbor arcade arch
archer arctic area arena argue arm armchair aroma around arrange arrive arrow art artful article artist ask aspect
aspen assembly assist assure asteroid astound athlete atlas atom attach attend attic attract auction audio august
aunt aurora author autograph autumn avalanche avenue average aviator avid avocado avoid awake award aware away axis
baby back backpack bacon badge badger bag bagel bagpipe bakery balance balcony ball ballad ballet balloon balmy
bamboo banana band bandana banjo bank banner banquet barbecue barber bargain barista barley barn barometer barrel
barrier base baseball basic basket bath bathtub battery bay beach beacon bead beagle beam beaming bean bear beard
beauty become bed bedrock bee beech beetle begin begonia behave behind belfry believe bell bellhop belong beloved
below belt bench bend benefit benign beret berry best better between beyond bicycle big bike binder bingo biology
birch bird biscuit bison bistro bit blade blank blanket blend blender blimp blink blissful blizzard block blossom
blouse blue blueberry bluebird blueprint blush board boat boating bobcat body boil bold bolt bone bonfire bonus book
bookcase bookmark boomerang boost boot border borrow boss both bottle bottom boulder bounce bounty bowl box boxer
bracelet brain branch brand brass brave bravo bread break breakfast breeze breezy brick bridge brief bright brighten
bring brisk broad broccoli bronze brook broom brother brown brownie brush bubble bubbly bucket buckle budget buffalo
bugle build bulb bulldog bulldozer bumblebee bundle bunny burrito burrow bus bush bustle busy butler butter
buttercup button buyer buzz cabbage cabin cabinet cable cactus cadet cafe cage cake calculus calendar calf calm
calmly camel camera camp camper canal canary candidate candle candy canoe canopy canteen canvas canyon cap capable
capital captain car caramel caravan card cardigan carefree cargo caring carnival carousel carpet carrot carry cart
cascade case cash cashew castle casual cat catalog catch catfish cattle catwalk cause cave cavern cedar ceiling
celebrate celery cellar cello cement census center cereal certain chain chair chalet chalk chamber champion change
channel chapel chapter charcoal charge chariot charm chart chase cheap check cheek cheerful cheese cheetah chef
chemist cherry chess chest chestnut chicken chief child chili chimney chin chipmunk chirp chocolate choice choose
chorus cinema cinnamon circle citadel citizen citrus city civil claim clap clarify clarinet clarity class classic
classy clay clean clear clerk clever click client cliff climate climb clinic clip clock close cloth cloud clover
club clue coach coast coastal coat cobalt cobble cobbler cocoa coconut cocoon code coffee coin cold collar collect
college colony color column combine comedy comet comfort comic common compact company compass complete compost
concert concise condo condor conductor confirm connect consider contact contest control convoy cook cookbook cookie
cool copper copy coral cordial core corn corner cornet correct cosmic cost cottage cotton couch count country couple
course courtyard cousin cover cow cowboy coyote cozy crab craft crafty cranberry crane crater crayon cream create
creative credit creek crew cricket crimson crisp crocus crop cross crouton crowd crown cruise crunchy crystal cube
cucumber cuddle culture cup cupboard cupcake curious current cursor curtain curve cushion custom cycle cyclist
cypress dahlia daily dairy daisy dance dancer dapper dark data date daughter dawn day dazzle deal debate decade
decent decide deck declare decor deep deer defend define degree delay delight deliver delta demand denim dentist
depend deposit depth deputy desert design desk detail detect develop device dewdrop diamond diary diesel diet differ
digital diligent dimple dingo dinner dinosaur diploma direct discover discreet dish display distant diver divide
dockyard doctor document dog doll dolphin domain domino donkey doodle door doorbell dormant double doughnut dove
down draft dragon dragonfly drama draw drawer dream dreamy dress drift drill drink drive drizzle drum drummer dry
duck dumpling dune during dusk dust duty dynamic dynamo eager eagle early earn earnest earring earth easel east easy
easygoing echo eclipse ecology edge edit educate effect effort eggplant elated elbow elder elect elegant element
elephant elevate elevator elk elm eloquent else embark embrace emerald employ empty emu enable enchant encore end
endless endorse energy engage engine engineer enjoy enlist enough enrich ensure enter entire entry envelope epic
episode equal equator equip erase escalator escape espresso essay estate estuary eternal evening event ever
evergreen every evident exact example excel excite exercise exhibit exist exit exotic expand expect expert explain
explore export express extend extra eye fabled fabric face fact factory fair fairway faith falcon fall famed family
famous fan fancy far farm farmer fashion fast father favor feather feature february federal fee feed feel fence
fennel ferret ferry festival festive fetch few fiber fiction fiddle field fiesta fig figure figurine file film
filter final find fine finger finish fire firefly fireplace firm first fish fit fix flag flame flamingo flannel
flash flat flavor fleet flight flipper float flock floor florist flower fluent fluid flute flutter flyer focus fog
foil fold folder folk follow food foot footpath forest forever forget fork forklift form fortune forum forward
fossil found fountain fox fragrant frame freckle free freezer fresh friday fridge friend frisbee frisky frog frolic
front frost frugal fruit fudge fuel full fun funny furnace future gadget galaxy gallant gallery game garage garden
gardener garlic gate gather gauge gazebo gear gecko gem general genius gentle genuine gesture geyser giant gift
giggle ginger giraffe give glacier glad glass gleam glide glider glimmer globe glossy glove glow glue gnome goal
goat goblet gold golden goldfish golf gondola good goose gopher gorilla gourmet gown grab grace gracious grade grain
grand granola grape graph grass grateful gravel gravity great green grid griddle grill grocery ground group grow
guard guava guess guest guide guitar gull gusto gymnast habit haiku half hall hammer hammock hamster hand handle
handy happy harbor hard harmonica harmony harp harvest hat hatchback hawk hazel hazelnut head headband health hear
heart hearty heat hedge hedgehog height helium hello helmet help helpful hen herb hero heroic heron herring hexagon
hidden high hiker hill hint hippo history hobby hockey hold holiday hollow home homely honest honey honeybee hood
hook hope hopeful horizon horn hornet horse hotdog hotel hour house hover huge humble humor hungry hurry husband hut
hydrant ice iceberg icon iconic idea ideal identify idle igloo ignore iguana image imagine immense impact import
improve inch include income index indoor infant infinite inform initial inkwell inner input insect inside inspire
install intact intense invest invite iris iron ironing island issue item ivory ivy jackal jacket jaguar jam january
jar jasmine javelin jazz jeans jelly jellyfish jewel jigsaw job jockey join joke jolly journal journey jovial joy
joyful jubilee judge juggler juice jukebox july jump june jungle junior juniper jury just kangaroo kayak kebab keen
keep kernel ketchup kettle key keyboard kick kid kimono kind kindly kinetic king kingdom kiosk kit kitchen kite
kitten kiwi knapsack knee knit knock know koala label labor ladder lady lagoon lake lamb lamp land lane language
lantern lapel laptop large later latitude laugh laundry lava lavender lavish lawn layer lead leaf learn leather
leave lecture left legal lemon lemonade lend length lens leopard lesson letter lettuce level library license lift
light lilac lily limb limit limousine line linen link lion liquid list listen little live lively lizard llama load
loaf lobby lobster local lock locket lodge lofty logic lollipop long loop lotus loud lounge love loyal lucid lucky
lullaby lumber lunar lunch lyric macaroni machine magic magnet magnolia mail mailbox main majestic major make
mallard mammal manage manatee mandolin mango mantis manual maple marathon marble march margarine margin marigold
marine market marmalade mascot mask mass master match material matrix maximum may meadow meal measure meatball
mechanic medal media medium meerkat meet mellow melody melon member memory mention mentor menu mercy merge merit
mermaid merry mesh message metal meter method microbe middle midfield midnight milk milkshake mill mimic mind mingle
minimum minnow minor minute mirror mission mitten mix mobile model modern modest moment monday money monitor monkey
monorail month moon moonlit moose moped morning mosaic moth mother motion motor mountain mouse move movie much
muffin muffler mule museum mushroom music muskrat mussel mustard mutual myth nachos nail name napkin narrow nation
native nature near neat neck nectar need needle neither nephew nest net network neutral never news next nice niece
nifty night nimble noble nomad noodle normal north nose note notice novel november number nurse nurture nut nutmeg
oak oasis oatmeal object oblong observe obtain ocean octagon october octopus odor offer office often olive omelet
once onion online only open opera opinion optimal option orange orbit orchard orchid order organ origami origin
ornate ostrich other otter outback outdoor outer output outside oval oven overcoat owl own owner oxygen oyster pace
pack paddle page pagoda pajamas palace palm pancake panda panel panorama panther papaya paper parachute parade
parcel parent park parrot parsley parsnip party pass past pasta patch path patrol pattern pause peace peaceful peach
peacock peanut pear pebble pebbly pecan pelican pen pencil penguin people pepper perfect permit person pet petunia
pharmacy pheasant phone photo phrase piano pickle picnic picture pig pigeon pillow pilot pine pinecone pink pinwheel
pioneer pipe pitch pitcher pizza placard place placid planet plant plastic plate platypus play playful please pledge
plenty plow plucky plum plumber plush pocket podium poem poet point polar police polite poncho pond pony pool
popcorn popular porch porcupine portion position possible post postcard potato potluck pottery powder power practice
prairie praise prefer present pretty pretzel price pride primary primrose print private prize problem process
produce professor profit program project promote prompt proof propeller proper prosper protect proud provide public
pudding puffin pull pulse puma pumpkin pupil puppy purple purpose purse push puzzle pyramid quail quaint quality
quantum quarry quarter quartet quartz queen question quick quiet quilt quirky quit quiver quote rabbit raccoon race
rack radar radiant radio radish raft rail rain rainbow raise raisin rally ramp ranch random range rapid rapids rare
raspberry rattle raven raw ready real reason rebel rebuild recall receive recipe recital record recycle reduce
reflect reform region regular reindeer rejoice relax release relief relish rely remain remember remind remove render
renew rent reopen repair repeat replace report reptile require rescue resist resolute resource response result
retire return reveal review reward rhubarb rib ribbon rice rich ride ridge right rigid ring ringtone ripple rise
river riverbed road roadster robe robin robot robust rocket rocky rodeo roof room rooster root rope rose rosemary
rosy rotate rough round rowboat royal rubber ruby rucksack rug rule run rural rustic saddle safe sail sailboat salad
salmon salon salsa salt same sample sand sandal sapphire sardine satchel satisfy saturday sausage save savvy
saxophone scale scarecrow scarf scene scenic scheme school science scissors scone scooter scout screen script scrub
sea seagull seahorse search seashell season seat second secret section security seed seek segment select sell
seminar senior sense serene series service session settle setup shadow shallow share shed shelf shell shelter
sherbet shield shift shine ship shirt shoe shop shore short shortcut shoulder shovel shower shrimp shrug shuffle
sibling side sight signal silent silk silver similar simple since sincere sing siren sister situate size skate
sketch ski skill skirt sky skylark skyline slab sled sleep sleeve slice slide slight slim slipper slogan slot slow
small smart smile smitten smooth snack snake snorkel snow snowball snowman snug soap soccer social sock soda sofa
soft solar solid solution solve someone song songbird soon sorbet sort sound soup source south space spaniel spare
spark sparkle sparrow spatula speak special speed spell spend sphere spice spider spinach spirit split sponge spoon
sport spot spray spread spring sprinkle spry square squash squirrel stable stadium staff stage stairs stallion stamp
stand starfish start state stay steady steak steel stellar stem step stereo stick still sting stingray stock stomach
stone stool stork story stove strategy street strike strong struggle student stuff sturdy style subject sublime
submarine submit subway success sugar suggest suit summer sun sundial sunflower sunlit sunny sunset super superb
supply supreme sure surface surfer surge surprise sustain swallow swamp swan sweet swift swim swimmer swing switch
symbol syrup system table tackle taco tactful tadpole tag tail talent talk tangerine tank tape tapestry target task
taste taxi teach teacup team teapot telescope tell tenant tender tennis tent term terrace terrier test text thank
that theme then theory there thermos they thimble thing this thistle thought thrifty thrive thumb thunder ticket
tide tidy tiger tilt timber time timely tiny tip tired tissue title toast toboggan today toddler toe together token
tomato tomorrow tone tongue tonight tool tooth top topic torch tornado tortoise total toucan tourist toward tower
town toy track trade traffic train tranquil transfer trap trapeze travel tray treasure treat tree trellis trend
trial trick trim trip trombone trophy trout truck true truly trumpet trust trusty truth try tuba tube tuesday
tugboat tulip tuna tunnel turkey turn turnip turtle tuxedo twice twin twist type typical ukulele umbrella unable
uncle uncover under undo unfold unicorn uniform unique unit universe unknown unlock until unusual unveil upbeat
update upgrade uphold uplift upon upper urban usage use used useful usual utility vacant vacuum vague valiant valid
valley valve van vanilla vapor various vast vault vehicle velvet velvety vendor venture venue veranda verb verdant
verify version very vessel vest veteran viable vibrant video view vigilant village vintage viola violin virtual
virtue visa visit visual vital vivid vocal voice volcano volume vote voyage vulture waffle wage wagon wait walk wall
walnut walrus want warbler warm warmly wash water waterfall wave way wealth wear weather web wedding wednesday
weekend welcome west wet wetland whale wheat wheel whisper whistle wholesome wide width wife wild will willow win
windmill window wing wink winner winter wire wisdom wise wish witness witty wolf woman wonder wood woodland wool
word work world worth wrap wren wrist yacht yard year yellow yodel yogurt young youth zany zebra zeppelin zesty
zinnia zippy zone zoo zucchini
""".split())
assert len(_WORDS) == len(set(_WORDS)) >= 2048
