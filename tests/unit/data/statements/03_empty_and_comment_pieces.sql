--> statement-breakpoint
--> statement-breakpoint
-- a piece holding only a comment
--> statement-breakpoint
/* a block comment /* nested */ piece; */
--> statement-breakpoint
   
	
--> statement-breakpoint
;;
--> statement-breakpoint
SELECT 1;
--> statement-breakpoint
