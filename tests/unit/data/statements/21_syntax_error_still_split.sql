CREAT TABLE x (id int); SELECT 1;
selec 1;
SELECT 2
