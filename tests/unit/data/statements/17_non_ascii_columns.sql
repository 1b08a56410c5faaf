-- Ünïcödé 日本語 😀
/* ✓ */ SELECT 'é'; CREATE TABLE "naïve" (x int); SELECT '😀' AS "😀";
