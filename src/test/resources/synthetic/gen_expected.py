# Writes the first samples of each synthetic task as CPython's random module draws them after seed(0).
# Independent re-statement of the task definitions documented in SyntheticTasks (for the Java tests).
import random, string
L = string.ascii_lowercase + string.ascii_uppercase
A = L + string.digits
def counts(s): return [s.count(c) for c in s]
def copy(): s = ''.join(random.choices(A, k=random.randint(0, 60))); return s + " :: " + s
def sort_(): s = ''.join(random.choices(A, k=random.randint(0, 60))); return s + " :: " + ''.join(sorted(s))
def hist(): s = ''.join(random.choices(L, k=random.randint(10, 80))); return s + "::" + str(counts(s))
def dhist():
    s = ''.join(random.choices(L, k=random.randint(10, 80))); h = counts(s)
    return s + "::" + str([h.count(c) // c for c in h])
def add():
    n1 = random.randint(2, 20); n2 = random.randint(2, 20)
    a = random.randint(0, 10 ** n1); b = random.randint(0, 10 ** n2)
    return f"{a}+{b}={a + b}"
def nsort():
    xs = [random.randint(0, 999) for _ in range(random.randint(0, 30))]
    f = lambda v: "[" + ",".join("%03d" % x for x in v) + "]"
    return f(xs) + "--" + f(sorted(xs))
def mcopy():
    t = copy(); m = random.random() < 0.9
    return t + "\t" + str(t.index("::") + 2 if m else 0)
tasks = {"copy": copy, "sort": sort_, "histogram": hist, "doublehistogram": dhist,
         "long_addition": add, "numbersort": nsort, "maskedcopy": mcopy}
for name, f in tasks.items():
    random.seed(0)
    with open(f"src/test/resources/synthetic/{name}.txt", "w") as out:
        for _ in range(200): out.write(f() + "\n")
