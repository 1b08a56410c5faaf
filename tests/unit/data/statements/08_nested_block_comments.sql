/* outer /* inner ; */ still the outer comment ; */ SELECT 1;
SELECT /* mid-statement /* nested; */ ; */ 2;
/* a */ /* b /* c */ ; */
/**/SELECT 3/***/;/*/ ; */
