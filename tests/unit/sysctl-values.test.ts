import { strict as assert } from "assert";
import { inDeclaredShape, normalise, sameValue, satisfies, targetValue } from "../../provider/sysctl/values";

describe("sysctl values", function () {
    it("normalises whitespace, tabs and arrays to one form", function () {
        assert.equal(normalise([4096, 131072, 6291456]), "4096 131072 6291456");
        assert.equal(normalise(" 4096\t131072   6291456 "), "4096 131072 6291456");
        assert.equal(normalise(65535), "65535");
    });

    it("treats number formatting as the same value, and different numbers as different", function () {
        assert.ok(sameValue("4096 0131072", "4096 131072"));
        assert.ok(!sameValue("4096", "4097"));
        assert.ok(!sameValue("fq", "fq_codel"));
    });

    it("atLeast raises only what is below the bound, element by element", function () {
        assert.equal(targetValue({ atLeast: 4096 }, "128"), "4096");
        assert.equal(targetValue({ atLeast: 4096 }, "65535"), "65535");
        assert.equal(targetValue({ atLeast: [4096, 87380, 16777216] }, "4096 131072 6291456"), "4096 131072 16777216");
        assert.ok(satisfies({ atLeast: 4096 }, "8192"));
        assert.ok(!satisfies({ atLeast: 4096 }, "128"));
    });

    it("atMost lowers only what is above the bound", function () {
        assert.equal(targetValue({ atMost: 20 }, "60"), "20");
        assert.equal(targetValue({ atMost: 20 }, "15"), "15");
    });

    it("covers keeps each end of a live range that is wider, and widens the other to the declared end", function () {
        assert.equal(targetValue({ covers: [10240, 65535] }, "32768 60999"), "10240 65535");
        assert.equal(targetValue({ covers: [10240, 65535] }, "1024 65535"), "1024 65535");
        assert.equal(targetValue({ covers: [10240, 60000] }, "32768 60999"), "10240 60999");
        assert.ok(satisfies({ covers: [10240, 65535] }, "1024 65535"));
        assert.ok(!satisfies({ covers: [10240, 65535] }, "10241 65535"));
        assert.deepEqual(inDeclaredShape({ covers: [10240, 65535] }, "32768 60999"), [32768, 60999]);
    });

    it("presents live values in the declared shape", function () {
        assert.equal(inDeclaredShape(65535, "4096"), 4096);
        assert.deepEqual(inDeclaredShape([1, 2, 3], "4096\t131072\t6291456".replace(/\t/g, " ")), [4096, 131072, 6291456]);
        assert.deepEqual(inDeclaredShape({ atLeast: 100 }, "200"), { atLeast: 100 });
        assert.equal(inDeclaredShape({ atLeast: 100 }, "50"), 50);
        assert.equal(inDeclaredShape("fq", "fq_codel"), "fq_codel");
    });
});
