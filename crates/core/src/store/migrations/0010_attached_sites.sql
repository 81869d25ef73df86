-- Which of the sites a key, an installer account or a sign-in reached belong to the customer
-- (the installer chooses; those whose address is another household's start unattached). Sites
-- from before were all the customer's.
ALTER TABLE sites ADD COLUMN attached INTEGER NOT NULL DEFAULT 1;
